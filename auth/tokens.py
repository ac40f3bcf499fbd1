"""JWTs as Medusa issues them: HS256, 24 h by default, the actor in the payload."""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from typing import Any

import jwt

from auth.store import Principal
from settings import Settings

ALGORITHM = "HS256"


def issue_token(principal: Principal, secret: str, expires_in: int) -> str:
    """A signed token for `principal`, valid for `expires_in` seconds."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "actor_id": principal.actor_id,
        "actor_type": principal.actor_type,
        "auth_identity_id": principal.auth_identity_id,
        "auth_provider": "emailpass",
        "app_metadata": principal.app_metadata,
        "user_metadata": {},
        "iat": now,
        "exp": now + expires_in,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


# Verified tokens (an admin tool sends the same one with every request): HMAC and PyJWT's checks
# run once per token, its expiry on every use. Cleared when full.
_VERIFIED: dict[tuple[str, str], tuple[Principal, float]] = {}
_VERIFIED_MAX = 4096


def verify_token(token: str, secret: str) -> Principal | None:
    """The principal of a valid, unexpired token signed with `secret`; None for anything else."""
    cached = _VERIFIED.get((token, secret))
    if cached is None:
        verified = _verify(token, secret)
        if verified is None:
            return None
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[(token, secret)] = cached = verified
    principal, expires = cached
    if time.time() >= expires:  # PyJWT's rule: valid while now < exp
        return None
    return dataclasses.replace(principal, app_metadata=dict(principal.app_metadata))


def _verify(token: str, secret: str) -> tuple[Principal, float] | None:
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "iat"]}
        )
    except jwt.PyJWTError:
        return None
    actor_id, actor_type = payload.get("actor_id"), payload.get("actor_type")
    identity, app_metadata = payload.get("auth_identity_id"), payload.get("app_metadata")
    if not (
        isinstance(actor_id, str) and isinstance(actor_type, str) and isinstance(identity, str)
    ):
        return None
    principal = Principal(
        actor_id, actor_type, identity, app_metadata if isinstance(app_metadata, dict) else {}
    )
    return principal, float(payload["exp"])


def resolve_jwt_secret(settings: Settings) -> str:
    """`JWT_SECRET`; in development only, a secret generated once and kept under DATA_DIR."""
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
        if len(secret) < 32:
            raise RuntimeError("JWT_SECRET must be at least 32 characters")
        return secret
    if settings.environment != "development":
        raise RuntimeError("JWT_SECRET is required (ENVIRONMENT is not development)")
    path = settings.data_dir / "jwt_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
