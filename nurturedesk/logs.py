"""Logging: a rotating file in the user log dir, and stderr for warnings."""

from __future__ import annotations

import logging
import logging.handlers
import os
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
        root.addHandler(handler)
    except OSError:
        path = None  # no log dir (read-only home, ...): stderr is all we have
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if os.environ.get("NURTUREDESK_SQL_ECHO"):
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    root._nurturedesk_configured = True  # type: ignore[attr-defined]
    return path
