"""keys: the signed contract between the cloud and the gates.

Ticket envelope (COSE_Sign1 + base45), claims, keyrings, revocation lists, root-signed
documents, encrypted key storage and the reason codes. It imports nothing else of the project
(DESIGN.md): both the cloud and the gate node build on it, and it must never depend on them.
"""
