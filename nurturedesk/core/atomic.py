"""Write a file the user asked for so that a failure never leaves half of it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from nurturedesk.core.errors import UserError


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write` fills a new file beside `path`, which is then renamed into place: a full disk
    or an error half-way leaves the earlier file (or none) as it was, never a broken one.
    An OSError becomes a UserError naming the file."""
    folder = path.resolve().parent
    if not folder.is_dir():
        raise UserError(f"There is no folder {folder} to write {path.name} into.")
    tmp: Path | None = None
    try:
        # Inside the try: a folder we may not write to fails here, at the first file made.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
        os.close(fd)
        tmp = Path(tmp_name)
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"Could not write {path}: {exc.strerror or exc}.") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
