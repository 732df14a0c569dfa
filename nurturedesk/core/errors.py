"""Errors the user can act on (the environment's or the input's), as opposed to bugs.

Everything raised as a `UserError` is shown as a clear one-line message (CLI: stderr, exit 1;
GUI: a message box) and leaves the data as it was. Anything else is a bug and goes to the
crash handler.
"""

from __future__ import annotations

from collections.abc import Iterable


class UserError(Exception):
    """A problem the user can fix; `str()` is the message to show."""


class ValidationError(UserError):
    """Bad input for one field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class DuplicateEmailError(ValidationError):
    def __init__(self, email: str, existing_id: int, existing_name: str) -> None:
        who = f"{existing_name} <{email}>" if existing_name else email
        super().__init__("email", f"A lead with this email already exists: {who} (#{existing_id}).")
        self.existing_id = existing_id


class NotFoundError(UserError):
    pass


NAMES_LISTED = 20  # names an error for a name that matches nothing lists at most


def no_such(kind: str, name: str, existing: Iterable[str]) -> NotFoundError:
    """The error for a name that matches nothing, listing the names there are, e.g.
    "No stage named 'Nowhere'. Stages: New, Won." (a typo would otherwise match no lead)."""
    listed = list(existing)
    names = ", ".join(listed[:NAMES_LISTED])
    if len(listed) > NAMES_LISTED:  # a workspace may have hundreds of tags: one line
        names += f" and {len(listed) - NAMES_LISTED:,} more"
    there = f"{kind.capitalize()}s: {names}." if names else f"There are no {kind}s yet."
    return NotFoundError(f"No {kind} named {name.strip()!r}. {there}")


class WorkspaceError(UserError):
    """The workspace file can't be opened as it is (not a workspace, corrupt, too new, ...)."""


class StorageError(UserError):
    """The disk refused a write (full, read-only, gone). Nothing committed before is lost."""


class DamagedWorkspaceError(WorkspaceError):
    """The workspace file failed its integrity check; a restore from a backup can help."""

    def __init__(self, message: str, path: object = None) -> None:
        super().__init__(message)
        self.path = path
