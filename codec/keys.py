"""Encryption keys: from settings (`PII_KEYS`, `PII_ACTIVE_KEY`) or a JSON key file.

Keys are identified by id, so they can rotate: new payloads use the active key, old payloads keep
the id of the key that encrypted them and are decrypted with it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from settings import Settings


@dataclass(frozen=True)
class KeyRing:
    active: str
    keys: dict[str, bytes]

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ValueError(f"the active PII key {self.active!r} is not among the keys")
        for key_id, key in self.keys.items():
            if len(key) not in (16, 24, 32):
                raise ValueError(f"PII key {key_id!r} must be 16, 24 or 32 bytes (base64)")


def _decode(value: str) -> bytes:
    return base64.b64decode(value.strip(), validate=True)


def load_key_ring(settings: Settings) -> KeyRing | None:
    """The configured key ring, or None when no key is configured (payloads stay in clear)."""
    if settings.pii_key_file:
        data = json.loads(Path(settings.pii_key_file).read_text())
        return KeyRing(data["active"], {k: _decode(v) for k, v in data["keys"].items()})
    if settings.pii_keys:
        keys = {}
        for item in settings.pii_keys.get_secret_value().split(","):
            key_id, _, value = item.partition(":")
            keys[key_id.strip()] = _decode(value)
        return KeyRing(settings.pii_active_key or next(iter(keys)), keys)
    return None
