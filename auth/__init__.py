"""Medusa-compatible authentication for the HTTP API: emailpass auth identities, admin users,
secret and publishable API keys, JWTs. Its tables live in the same database as the Customer
Module (migration 0003) but in their own mappings here; the Customer Module never imports this."""

from auth.store import AuthStore, Identity, Principal

__all__ = ["AuthStore", "Identity", "Principal"]
