"""Bugs, as opposed to the environment's errors: log them (secrets scrubbed) and tell the user.

`install_crash_handler(show)` sets `sys.excepthook` and `threading.excepthook`; `show(text,
log_path)` is the GUI's crash dialog (called on the GUI thread by the caller's wiring), or
nothing for the CLI, which prints a line pointing at the log instead.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from nurturedesk.logs import log_file_path, scrub

log = logging.getLogger("nurturedesk.crash")

ShowCrash = Callable[[str, Path | None], None]


def crash_text(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> str:
    return scrub("".join(traceback.format_exception(exc_type, exc, tb)))


def install_crash_handler(show: ShowCrash | None = None) -> None:
    def handle(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.critical("unexpected error", exc_info=(exc_type, exc, tb))
        text = crash_text(exc_type, exc, tb)
        path = log_file_path()
        where = path if path.exists() else None
        if show is not None:
            try:
                show(text, where)
                return
            except Exception:  # the dialog itself failed: fall back to stderr
                log.exception("the crash dialog failed")
        print(
            f"nurturedesk: unexpected error ({exc_type.__name__}); details are in {where}",
            file=sys.stderr,
        )

    def handle_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            handle(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = handle
    threading.excepthook = handle_thread
