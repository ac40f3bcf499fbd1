"""Entity ids: `<prefix>_<ULID>`, sortable by creation time.

`ulid()` is pure (time and randomness are arguments) so workflows can mint ids deterministically
from `workflow.now()` and `workflow.random()`; `new_id()` is the convenience for everyone else.
"""

from __future__ import annotations

import secrets
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

CUSTOMER = "cus"
ADDRESS = "cuaddr"
GROUP = "cusgroup"
MEMBERSHIP = "cusgc"


def ulid(timestamp_ms: int, randomness: int) -> str:
    """26 Crockford base32 characters: 48 bits of milliseconds, then 80 random bits."""
    value = ((timestamp_ms & ((1 << 48) - 1)) << 80) | (randomness & ((1 << 80) - 1))
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def make_id(prefix: str, timestamp_ms: int, randomness: int) -> str:
    return f"{prefix}_{ulid(timestamp_ms, randomness)}"


def new_id(prefix: str) -> str:
    return make_id(prefix, time.time_ns() // 1_000_000, secrets.randbits(80))
