"""The SMTP password, in the OS keyring and nowhere else.

Never in the database, a log, an export or an error message. A keyring that is missing,
locked or refuses (any `keyring.errors.KeyringError`) becomes a `CredentialsError` that says
what to do; the rest of the app keeps working.
"""

from __future__ import annotations

import logging

import keyring
import keyring.errors

from nurturedesk.core.errors import UserError

log = logging.getLogger(__name__)

SERVICE = "NurtureDesk SMTP"


class CredentialsError(UserError):
    pass


def _account(user: str, host: str) -> str:
    return f"{user}@{host}"


def _keyring_problem(exc: BaseException, doing: str) -> CredentialsError:
    # The exception's text is the backend's, never the secret; keep it short anyway.
    kind = type(exc).__name__
    if isinstance(exc, keyring.errors.NoKeyringError):
        hint = "no system keyring is available; install/unlock GNOME Keyring or KWallet"
    elif isinstance(exc, keyring.errors.KeyringLocked):
        hint = "the keyring is locked; unlock it and try again"
    else:
        hint = "the system keyring refused the request; unlock it and try again"
    log.warning("keyring %s failed: %s", doing, kind)
    return CredentialsError(f"Could not {doing} the SMTP password: {hint} ({kind}).")


def store_password(user: str, host: str, password: str) -> None:
    if not password:
        raise CredentialsError("The password is empty.")
    try:
        keyring.set_password(SERVICE, _account(user, host), password)
    except keyring.errors.KeyringError as exc:
        raise _keyring_problem(exc, "store") from None


def load_password(user: str, host: str) -> str:
    """The stored password; CredentialsError if none is stored or the keyring fails."""
    try:
        password = keyring.get_password(SERVICE, _account(user, host))
    except keyring.errors.KeyringError as exc:
        raise _keyring_problem(exc, "read") from None
    if password is None:
        raise CredentialsError(
            f"No SMTP password stored for {user} on {host}; set it with `nurturedesk smtp "
            "password` or in Settings > Sending."
        )
    from nurturedesk.logs import register_secret

    register_secret(password)  # masked in every log record from now on
    return password


def has_password(user: str, host: str) -> bool:
    try:
        return keyring.get_password(SERVICE, _account(user, host)) is not None
    except keyring.errors.KeyringError:
        return False


def forget_password(user: str, host: str) -> None:
    try:
        keyring.delete_password(SERVICE, _account(user, host))
    except keyring.errors.PasswordDeleteError:
        pass
    except keyring.errors.KeyringError as exc:
        raise _keyring_problem(exc, "delete") from None
