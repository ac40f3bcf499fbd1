"""What the `CustomerEmail` search attribute holds. Pure module (workflows import it).

Temporal does not encrypt search attributes. Without a key the tag is the lower-cased email; with a
PII key configured it is a keyed hash (HMAC-SHA256) of it, so runs stay findable by email — the
client and CLI hash the email they search for — without the email being stored in clear.
The worker and the client call `configure` once at start-up with the same key.
"""

from __future__ import annotations

import hashlib
import hmac

_key: bytes | None = None


def configure(key: bytes | None) -> None:
    global _key
    _key = key


def email_tag(email: str) -> str:
    normalised = email.strip().lower()
    if _key is None:
        return normalised
    return "h:" + hmac.new(_key, normalised.encode(), hashlib.sha256).hexdigest()[:40]
