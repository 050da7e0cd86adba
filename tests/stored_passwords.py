"""Staff passwords as the database stores them, hashed once per test process.

Each is a real scrypt hash from ``cloud.core.security.hash_password`` at the product's cost;
only the work is shared. The suite's fixed passwords ("boss-password"...) were hashed afresh
for every test that made an account (~60 ms each, three per API test), minutes of CI's CPU
spent proving nothing new: hashing itself is tested in tests/cloud/api/test_auth.py.
"""

from __future__ import annotations

import functools

from cloud.core.security import hash_password


@functools.cache
def stored_hash(password: str) -> str:
    return hash_password(password)
