"""Input hygiene shared by every way data gets in (GUI, CLI, import)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email

from nurturedesk.core.errors import ValidationError

# CR, LF, NUL and the other C0/C1 controls (tab kept as a space): nothing from a lead field
# may ever end up splitting an email header.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# What separates tags in a file's tags column (and in our export's): never part of a name,
# or an exported lead would come back with its tag cut in two.
TAG_SEPARATORS = re.compile(r"[,;|]")


def clean_text(value: object, max_length: int | None = None) -> str:
    """Strip control characters and surrounding space; tabs become spaces."""
    if value is None:
        return ""
    text = _CONTROL.sub(" ", str(value).replace("\t", " ")).strip()
    text = re.sub(r" {2,}", " ", text)
    if max_length is not None:
        text = text[:max_length]
    return text


def normalize_email(value: object) -> str:
    """Validated, normalised address: trimmed, domain lower-cased (IDNA), local part kept.

    Syntax only: no DNS lookups, so it works offline and fast.
    """
    raw = clean_text(value)
    if not raw:
        raise ValidationError("email", "An email address is required.")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError("email", f"Invalid email address {raw!r}: {exc}") from exc
    local, _, domain = result.normalized.rpartition("@")
    return f"{local}@{domain.lower()}"


def email_key(email: str) -> str:
    """The case-insensitive identity of an address (dedupe, uniqueness, suppression)."""
    return email.strip().lower()


def tag_names(values: Iterable[str], existing: Iterable[str] = ()) -> list[str]:
    """The tag names in `values`, each of which may hold several ("vip, fair 2026"):
    cleaned, without blanks, each name once whatever its letter case, in order. A value that
    is the name of an `existing` tag is that tag (one made before separators were refused)."""
    known = {clean_text(name, 80).casefold() for name in existing}
    names: dict[str, str] = {}
    for value in values:
        whole = clean_text(value, 80)
        parts = [whole] if whole.casefold() in known else TAG_SEPARATORS.split(value)
        for part in parts:
            name = clean_text(part, 80)
            if name:
                names.setdefault(name.casefold(), name)
    return list(names.values())
