"""PII protection: an AES-GCM payload codec, keyed email tags for search, and a codec server."""
