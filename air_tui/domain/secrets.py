"""Secrets read from the environment or the system keyring and nowhere else.

Nothing here writes a secret to the store, the ledger, the configuration or a log line.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def find_secret(env_name: str, keyring_service: str, username: str) -> str | None:
    """Return the secret from `env_name`, or else from the keyring entry (`keyring_service`, `username`), or None."""
    value = os.environ.get(env_name, "") if env_name else ""
    if value:
        return value
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None
    try:
        stored = keyring.get_password(keyring_service, username)
    except KeyringError as error:
        log.info("The keyring could not be read for %s: %s", keyring_service, type(error).__name__)
        return None
    return stored or None


def missing_secret_hint(env_name: str, keyring_service: str, username: str) -> str:
    """Describe where to put a secret that was not found, for an error message."""
    return f"set the environment variable {env_name}, or store it with `keyring set {keyring_service} {username}`"
