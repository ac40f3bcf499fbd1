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
    return new_ids(prefix, 1)[0]


# Two Crockford digits per 10 bits: the last 8 digits of many ids at a lookup each.
_PAIRS = [a + b for a in CROCKFORD for b in CROCKFORD]


def _low_digits(value: int) -> str:
    """The last 8 digits (40 bits) of a ULID."""
    p = _PAIRS
    return p[value >> 30 & 1023] + p[value >> 20 & 1023] + p[value >> 10 & 1023] + p[value & 1023]


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` fresh ids in increasing order, as `count` calls of `new_id` would make them."""
    global _last
    with _lock:
        now = time.time_ns() // 1_000_000
        last_ms, last_random = _last
        if now > last_ms:
            last_ms, last_random = now, secrets.randbits(80) - 1
        if last_random + count >= _RANDOM_LIMIT:
            last_ms, last_random = last_ms + 1, secrets.randbits(79) - 1
        _last = (last_ms, last_random + count)
    ids: list[str] = []
    value, end = last_random + 1, last_random + 1 + count
    while value < end:  # the first 18 digits change once in 2**40 ids
        stop = min(end, ((value >> 40) + 1) << 40)
        head = f"{prefix}_{ulid(last_ms, value)[:18]}"
        ids += [head + _low_digits(v) for v in range(value, stop)]
        value = stop
    return ids
