"""Secrets for mail backends, read from the environment or the system keyring and nowhere else.

This module writes no secret to the store, the ledger, the configuration or a log line. Its
errors name where a secret was looked for, never the secret.
"""

from __future__ import annotations

import logging
import os

from air_tui.remediation.mail import BackendError

log = logging.getLogger(__name__)


def lookup_secret(env_name: str, keyring_service: str, username: str, *, what: str) -> str:
    """Return the secret from `env_name`, or else from the keyring entry (`keyring_service`, `username`).

    Args:
        what: What the secret is for, in words, for the error message, e.g. `the IMAP password`.

    Raises:
        BackendError: Neither place contains it.
    """
    value = os.environ.get(env_name, "") if env_name else ""
    if value:
        return value
    try:
        import keyring
        from keyring.errors import KeyringError

        try:
            stored = keyring.get_password(keyring_service, username)
        except KeyringError as error:
            log.info("The keyring could not be read for %s: %s", keyring_service, type(error).__name__)
            stored = None
    except ImportError:
        stored = None
    if stored:
        return stored
    raise BackendError(
        f"No secret for {what}: set the environment variable {env_name}, or store it with "
        f"`keyring set {keyring_service} {username}`."
    )
