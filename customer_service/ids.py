"""Entity ids: `<prefix>_<ULID>`, sortable by creation time.

`ulid()` is pure (time and randomness are arguments) so workflows can mint ids deterministically
from `workflow.now()` and `workflow.random()`; `new_id()` is the convenience for everyone else.
"""

from __future__ import annotations

import secrets
import threading
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


_RANDOM_LIMIT = 1 << 80
_last = (0, 0)  # (milliseconds, randomness) of the previous new_id()
_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """A fresh id. Monotonic within the process: ids minted in the same millisecond (a batch)
    increment the random part, so sorting by id keeps their creation order (SPEC §1.1)."""
    global _last
    with _lock:
        now = time.time_ns() // 1_000_000
        last_ms, last_random = _last
        if now > last_ms:
            _last = (now, secrets.randbits(80))
        elif last_random + 1 < _RANDOM_LIMIT:
            _last = (last_ms, last_random + 1)
        else:
            _last = (last_ms + 1, secrets.randbits(80))
        return make_id(prefix, *_last)
