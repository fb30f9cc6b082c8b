"""Encryption of CRM credentials at rest (Fernet) and hashing of API keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE = "secret.key"


class SecretsError(RuntimeError):
    """Stored ciphertext cannot be decrypted with the configured keys."""


def load_or_create_keys(configured: str, instance_path: str) -> list[str]:
    """Fernet keys from QUALIFY_SECRET_KEY (comma-separated, newest first), else instance/secret.key.

    The embedded mode creates the key file (mode 0600) on first use.
    """
    if configured.strip():
        return [k.strip() for k in configured.split(",") if k.strip()]
    path = Path(instance_path) / KEY_FILE
    if path.exists():
        return [path.read_text().strip()]
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return [key]


class Vault:
    """Encrypts and decrypts small JSON secrets with MultiFernet (first key encrypts)."""

    def __init__(self, keys: list[str]) -> None:
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, data: dict[str, Any]) -> str:
        """Ciphertext for a JSON-serializable dict."""
        return self._fernet.encrypt(json.dumps(data, sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        """The dict behind `token`; raises SecretsError when no key opens it."""
        try:
            value = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError) as exc:
            raise SecretsError("stored credentials cannot be decrypted with the configured keys") from exc
        if not isinstance(value, dict):
            raise SecretsError("stored credentials are not an object")
        return value


def new_api_key() -> tuple[str, str, str]:
    """A fresh API key as (full key, public prefix, SHA-256 hash)."""
    prefix = secrets.token_hex(4)
    key = f"qk_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_prefix(key: str) -> str | None:
    """The public prefix of a well-formed key, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "qk" or len(parts[1]) != 8:
        return None
    return parts[1]


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())
