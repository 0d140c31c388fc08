"""Secrets for mail backends, read from the environment or the system keyring and nowhere else.

Errors name where a secret was looked for, never the secret.
"""

from __future__ import annotations

from air_tui.domain.secrets import find_secret, missing_secret_hint
from air_tui.remediation.mail import BackendError


def lookup_secret(env_name: str, keyring_service: str, username: str, *, what: str) -> str:
    """Return the secret from `env_name`, or else from the keyring entry (`keyring_service`, `username`).

    Args:
        what: What the secret is for, in words, for the error message, e.g. `the IMAP password`.

    Raises:
        BackendError: Neither place contains it.
    """
    secret = find_secret(env_name, keyring_service, username)
    if secret:
        return secret
    raise BackendError(f"No secret for {what}: {missing_secret_hint(env_name, keyring_service, username)}.")
