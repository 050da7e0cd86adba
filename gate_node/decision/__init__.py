"""The decision engine: from one credential read to grant or deny, offline, with a reason.

``engine.decide`` is the single entry point; the small pure checks it runs are keys/rules.py,
shared with the cloud's partner verification.
"""
