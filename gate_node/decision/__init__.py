"""The decision engine: from one credential read to grant or deny, offline, with a reason.

``engine.decide`` is the single entry point; ``rules`` holds the small pure checks it runs.
"""
