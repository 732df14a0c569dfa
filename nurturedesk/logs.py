"""Logging: a rotating file in the user log dir, and stderr for warnings."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
from pathlib import Path

from nurturedesk.paths import user_log_dir

LOG_FILE_NAME = "nurturedesk.log"


def log_file_path() -> Path:
    return user_log_dir() / LOG_FILE_NAME


def setup_logging(verbose: bool = False) -> Path | None:
    root = logging.getLogger()
    if getattr(root, "_nurturedesk_configured", False):
        return log_file_path()
    level = logging.DEBUG if verbose else logging.INFO
    root.setLevel(level)
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.DEBUG if verbose else logging.WARNING)
    stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    stderr.addFilter(SecretScrubber())
    root.addHandler(stderr)
    path: Path | None = log_file_path()
    try:
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
        )
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
        )
        handler.addFilter(SecretScrubber())
        root.addHandler(handler)
    except OSError:
        path = None  # no log dir (read-only home, ...): stderr is all we have
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if os.environ.get("NURTUREDESK_SQL_ECHO"):
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    root._nurturedesk_configured = True  # type: ignore[attr-defined]
    return path


# --- Secrets never reach a log ----------------------------------------------------------
# Filters sit on the handlers (a logger's filters do not see records from child loggers).
# Two nets: secret values registered at run time (the SMTP password as it is read from the
# keyring) are replaced wherever they appear; and anything shaped like a secret
# (password=..., AUTH PLAIN <base64>, Authorization: ..., user:pass@ in a URL) is masked.

MASK = "********"
_registered: set[str] = set()
_registered_lock = threading.Lock()
_SHAPES = [
    re.compile(
        r"(?i)((?:password|passwd|pwd|secret|token|api[_-]?key|app[_-]?password)"
        r"[\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;)}\]]+)"
    ),
    re.compile(r"(?i)(\bAUTH\s+(?:PLAIN|LOGIN|XOAUTH2|CRAM-MD5)\s+)(\S+)"),
    re.compile(r"(?i)(\bAuthorization\s*:\s*(?:Basic|Bearer)?\s*)(\S+)"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(?=@)"),
]


def register_secret(value: str) -> None:
    """Mask this exact value in every log record from now on (passwords, tokens)."""
    if value and len(value) >= 3:  # masking "a" everywhere would wreck the log
        with _registered_lock:
            _registered.add(value)


def scrub(text: str) -> str:
    with _registered_lock:
        values = sorted(_registered, key=len, reverse=True)
    for value in values:
        text = text.replace(value, MASK)
    for shape in _SHAPES:
        text = shape.sub(lambda m: m.group(1) + MASK, text)
    return text


class SecretScrubber(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
