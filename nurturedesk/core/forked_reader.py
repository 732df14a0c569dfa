"""An import's file read in a child process while this one writes what it reads.

Reading a file into leads (the CSV reader, cleaning, checking and building rows) is Python
and holds the GIL; writing them (SQLite's tables and indexes) is C. Two threads do not
overlap them (measured: CPU time equalled wall time), two processes do. The child is a
fork, so it starts in a millisecond with the import's whole state (the address index, the
mapping, the open file) and nothing of that is copied through a pipe.

The child never touches the database. Each chunk of rows it builds comes back through a
pipe (the rows with `marshal`, the fastest way to pass plain tuples; the rest pickled) and
is written here, on the import's own connection and in its one transaction: cancelled,
failed or killed, the import still leaves nothing behind. The child dies with the pipe.

Only where a fork is safe and pays: on Linux (macOS forbids a fork of a process that runs
Cocoa; Windows has none), with two CPUs or more, for a file big enough to repay it.
"""

from __future__ import annotations

import contextlib
import marshal
import multiprocessing
import os
import pickle
import signal
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, TypeVar

from nurturedesk.core.errors import UserError

T = TypeVar("T")
# A smaller file is read in the import's own process: the fork and the pipe would cost more
# than the overlap gives back (about 20,000 rows of ten columns).
MIN_BYTES = 2_000_000
PROGRESS_EVERY = 0.1  # seconds between the child's progress messages


class Report(Protocol):
    def add(self, status: str, row: int, reason: str, cells: list[str]) -> None: ...

    def skip(
        self, row: int, why: str, where: str, cells: list[str], nothing_new: bool = False
    ) -> None: ...


class Sink(Protocol):
    """Where the reading sends what it built."""

    @property
    def report(self) -> Report: ...

    def flush(
        self,
        chunk: Any,
        chunk_tags: dict[int, set[int]],
        updates: list[Any],
        rows: int,
        next_id: int,
        fraction: float | None = None,
    ) -> None: ...

    def tag_id(self, name: str) -> int: ...

    def progress(self, rows: int, fraction: float | None = None) -> None: ...

    def check(self) -> None:
        """Raise if the import is to stop (cancelled)."""


def worth_it(path: Path) -> bool:
    """Whether to read this file in a child process: a big file, and a CPU free for it."""
    if sys.platform != "linux":
        return False
    try:
        if path.stat().st_size < MIN_BYTES:
            return False
    except OSError:
        return False
    return busy_elsewhere() + 2 <= len(os.sched_getaffinity(0))


def busy_elsewhere() -> int:
    """Processes running or waiting for a CPU now, besides this one (the fewest of three
    looks, a millisecond apart, so that a short-lived one does not count). With every CPU
    taken, the child would only take turns with this process, and the pipe between them
    costs CPU of its own (measured with one CPU of two busy: 3.3x the plain insert against
    2.9x in one process)."""
    counts = []
    for _ in range(3):
        try:
            with open("/proc/loadavg", encoding="ascii") as fh:
                running = fh.read().split()[3].split("/")[0]  # "1.05 0.70 0.51 2/321 123"
            counts.append(int(running) - 1)
        except (OSError, IndexError, ValueError):
            return 1_000  # cannot tell: read in this process
        time.sleep(0.001)
    return min(counts)


def read_apart(read: Callable[[Sink], T], here: Sink, fraction: Callable[[], float]) -> T:
    """`read(sink)` run in a forked child, each call it makes on the sink carried out here,
    on `here`, in order; its return value (or exception) is this call's."""
    ours, theirs = multiprocessing.Pipe()
    pid = os.fork()
    if pid == 0:  # the child: read, send, and go without running anything of the parent's
        code = 0
        try:
            ours.close()
            _child(read, theirs, fraction)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    theirs.close()
    try:
        result: T = _serve(ours, here)
    except BaseException:  # cancelled, failed, interrupted: the child stops at once
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        ours.close()
        with contextlib.suppress(ChildProcessError):  # (reaped already, SIGCHLD ignored)
            os.waitpid(pid, 0)
    return result


def _serve(pipe: Connection, here: Sink) -> Any:
    while True:
        here.check()
        while not pipe.poll(PROGRESS_EVERY):
            here.check()
        try:
            kind, calls, *args = pipe.recv()
        except EOFError:
            raise UserError(
                "The import stopped: the process reading the file ended without a word"
                " (out of memory?); nothing was imported."
            ) from None
        for method, *call in calls:  # the rows skipped or rejected, in file order
            getattr(here.report, method)(*call)
        if kind == "flush":
            chunk = marshal.loads(pipe.recv_bytes())
            here.flush(chunk, *args)
        elif kind == "tag":
            pipe.send(here.tag_id(*args))
        elif kind == "progress":
            here.progress(*args)
        elif kind == "done":
            return args[0]
        else:  # "error"
            raise args[0]


class _RecordedReport:
    """The report calls of the child, replayed on the parent's report."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def add(self, status: str, row: int, reason: str, cells: list[str]) -> None:
        self.calls.append(("add", status, row, reason, cells))

    def skip(
        self, row: int, why: str, where: str, cells: list[str], nothing_new: bool = False
    ) -> None:
        self.calls.append(("skip", row, why, where, cells, nothing_new))

    def take(self) -> list[tuple[Any, ...]]:
        calls, self.calls = self.calls, []
        return calls


class _ToParent:
    """The child's sink: every call goes to the parent."""

    def __init__(self, pipe: Connection, fraction: Callable[[], float]) -> None:
        self.pipe = pipe
        self.fraction = fraction
        self.report = _RecordedReport()
        self.last_progress = time.perf_counter()
        self.tag_ids: dict[str, int] = {}  # a name as the file writes it -> its tag

    def send(self, kind: str, *args: Any) -> None:
        self.pipe.send((kind, self.report.take(), *args))

    def flush(
        self,
        chunk: Any,
        chunk_tags: dict[int, set[int]],
        updates: list[Any],
        rows: int,
        next_id: int,
        fraction: float | None = None,
    ) -> None:
        self.send("flush", chunk_tags, updates, rows, next_id, self.fraction())
        self.pipe.send_bytes(marshal.dumps(chunk))
        self.last_progress = time.perf_counter()

    def tag_id(self, name: str) -> int:
        if name not in self.tag_ids:
            self.send("tag", name)
            self.tag_ids[name] = int(self.pipe.recv())
        return self.tag_ids[name]

    def progress(self, rows: int, fraction: float | None = None) -> None:
        tick = time.perf_counter()
        if tick - self.last_progress > PROGRESS_EVERY:
            self.last_progress = tick
            self.send("progress", rows, self.fraction())

    def check(self) -> None:
        """(The parent checks for a cancel while it waits.)"""


def _child(read: Callable[[Sink], Any], pipe: Connection, fraction: Callable[[], float]) -> None:
    sink = _ToParent(pipe, fraction)
    try:
        sink.send("done", read(sink))
    except BaseException as exc:
        sink.send("error", _as_sent(exc))
        raise


def _as_sent(exc: BaseException) -> BaseException:
    """The exception, or one with its message if it would not come out of the pipe as it
    went in (an exception whose __init__ takes other arguments than its message)."""
    try:
        back = pickle.loads(pickle.dumps(exc))
        if type(back) is type(exc) and str(back) == str(exc):
            return exc
    except Exception:  # (replaced below)
        pass
    if isinstance(exc, UserError):
        return UserError(str(exc))
    return RuntimeError(f"{type(exc).__name__} while reading the file: {exc}")
