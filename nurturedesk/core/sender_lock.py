"""One sender per workspace: the lock any process takes before it dispatches mail.

Why an OS file lock and not a table row: a row needs a liveness protocol (heartbeat plus a
timeout) to notice a crashed holder, so a crash blocks sending until the timeout runs out,
and a laptop that slept past the timeout would see its lock "taken over" while it is still
alive: two senders. An OS lock (`flock` on POSIX, `msvcrt.locking` on Windows) is released
by the kernel the moment its process dies, even on SIGKILL, and can never be taken while
the holder lives. So a lock left by a crashed process is taken over at once and safely.

Two files sit beside the workspace (`workspace.sqlite` -> `workspace.sqlite.sender.lock`
and `workspace.sqlite.sender.json`): the first is only ever locked, the second records who
holds it (pid, host, process kind, since, heartbeat) so the refused process can say who.
The record is written atomically (temp file + rename) and only by the lock holder; a
record whose process no longer holds the lock is stale and reported as the previous holder.

Use it like this (the dispatcher, the headless `run`, the GUI):

    with hold_sender_lock(workspace, "send-due"):   # one-shot: raises SenderBusyError
        dispatch_due(workspace)

    lock = acquire_sender_lock(workspace, "gui")    # long-lived: keep it, heartbeat thread
    ...
    lock.release()
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from nurturedesk.core.errors import StorageError, UserError

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 60
LOCK_SUFFIX = ".sender.lock"
RECORD_SUFFIX = ".sender.json"

# Process kinds, for the message a refused process shows.
KIND_LABELS = {
    "gui": "the NurtureDesk window",
    "run": "the headless `nurturedesk run`",
    "send-due": "`nurturedesk send-due`",
    "restore": "`nurturedesk restore`",
}


@dataclass(frozen=True)
class SenderHolder:
    """Who holds (or last held) a workspace's sender lock."""

    pid: int
    host: str
    kind: str
    since: str  # ISO 8601 UTC
    heartbeat: str  # ISO 8601 UTC, refreshed while the lock is held

    def describe(self) -> str:
        label = KIND_LABELS.get(self.kind, self.kind)
        return (
            f"{label} (process {self.pid} on {self.host}, since {_short(self.since)} UTC, "
            f"last seen {_short(self.heartbeat)} UTC)"
        )


class SenderBusyError(UserError):
    """Another process holds the sender lock: this one must not dispatch mail."""

    def __init__(self, workspace_name: str, holder: SenderHolder | None, kind: str = "") -> None:
        who = holder.describe() if holder else "another NurtureDesk process"
        if kind == "restore":
            message = (
                f"Cannot restore {workspace_name} while {who} is using it "
                "(it sends its mail); close that one first."
            )
        else:
            message = (
                f"Mail for {workspace_name} is already being sent by {who}; "
                "this process will not send. Close that one to send from here."
            )
        super().__init__(message)
        self.holder = holder


def _short(iso: str) -> str:
    return iso[:19].replace("T", " ")


def _now_iso() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def lock_paths(workspace_path: Path | None, url: str = "") -> tuple[Path, Path]:
    """The lock file and holder record for a workspace (beside it when it is a file)."""
    if workspace_path is not None:
        base = Path(workspace_path).expanduser().resolve()
        return base.with_name(base.name + LOCK_SUFFIX), base.with_name(base.name + RECORD_SUFFIX)
    # A workspace given as a URL (a server database): lock per URL in the user data dir.
    from nurturedesk.paths import user_data_dir

    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    base = user_data_dir() / "locks" / digest
    return base.with_name(digest + LOCK_SUFFIX), base.with_name(digest + RECORD_SUFFIX)


def _open_lock_file(lock_path: Path) -> IO[bytes]:
    """Open (creating) the lock file. A lock file another user created may be read-only to
    us; `flock` works on a read-only descriptor, so fall back to that."""
    try:
        return open(lock_path, "a+b")  # held open for the lock's whole life
    except PermissionError:
        return open(lock_path, "rb")


def _try_lock(fh: IO[bytes]) -> bool:
    """Take an exclusive, non-blocking OS lock on the open file; False if someone has it."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    import fcntl

    try:
        # flock, not fcntl/lockf: flock locks belong to the open file, so a second attempt
        # from the same process is refused too, and closing another fd does not drop it.
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _try_lock_patiently(fh: IO[bytes], attempts: int = 3) -> bool:
    # A few quick retries: `current_holder` probes the lock for a moment, and that probe
    # must not make a real sender give up.
    for attempt in range(attempts):
        if _try_lock(fh):
            return True
        if attempt + 1 < attempts:
            time.sleep(0.05)
    return False


def _read_holder_settled(record_path: Path) -> SenderHolder | None:
    """The holder record, given a moment to settle if it still names a dead process
    (a new holder that just took over from a crash may not have written it yet)."""
    holder = read_holder(record_path)
    if holder is not None and holder.host == socket.gethostname() and not _alive(holder.pid):
        time.sleep(0.2)
        holder = read_holder(record_path)
    return holder


def _alive(pid: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - no cheap check; assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unlock(fh: IO[bytes]) -> None:
    if sys.platform == "win32":  # pragma: no cover - Windows only
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    import fcntl

    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_holder(record_path: Path) -> SenderHolder | None:
    try:
        data = json.loads(record_path.read_text(encoding="utf-8"))
        return SenderHolder(**{k: data[k] for k in SenderHolder.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_record(record_path: Path, holder: SenderHolder) -> None:
    tmp = record_path.with_name(f"{record_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(holder)), encoding="utf-8")
    os.replace(tmp, record_path)  # atomic: a reader sees the old record or the new one


# Locks this process holds, by lock file: `hold_sender_lock` and `sending_allowed` reuse them.
_held: dict[Path, SenderLock] = {}
_held_guard = threading.Lock()
_process_kind = "app"
_last_refusal: dict[Path, int] = {}
_paused = threading.Event()


def set_sending_paused(paused: bool) -> None:
    """ "Pause sending" (tray): this process keeps the lock (so nobody else starts sending)
    but `sending_allowed` says no until resumed."""
    if paused:
        _paused.set()
    else:
        _paused.clear()
    log.info("sending %s", "paused" if paused else "resumed")


def sending_paused() -> bool:
    return _paused.is_set()


def set_process_kind(kind: str) -> None:
    """What this process is ("gui", "run"): used by `sending_allowed` when it takes the lock."""
    global _process_kind
    _process_kind = kind


def held_lock(workspace: Any) -> SenderLock | None:
    """The sender lock this process holds for the workspace, if any."""
    path, url, _ = _workspace_where(workspace)
    with _held_guard:
        lock = _held.get(lock_paths(path, url)[0])
    return lock if lock is not None and lock.held else None


class SenderLock:
    """A held sender lock. Release it (or let the process end) to let another sender in."""

    def __init__(self, fh: IO[bytes], lock_path: Path, record_path: Path, holder: SenderHolder):
        self._fh: IO[bytes] | None = fh
        self.lock_path = lock_path
        self.record_path = record_path
        self.holder = holder
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def heartbeat(self) -> None:
        """Refresh `heartbeat` in the record (shown to refused processes as 'last seen')."""
        if self._fh is None:
            return
        self.holder = SenderHolder(**{**asdict(self.holder), "heartbeat": _now_iso()})
        try:
            _write_record(self.record_path, self.holder)
        except OSError as exc:  # the lock itself still holds; the record is for people
            log.warning("could not refresh the sender lock record: %s", exc)

    def start_heartbeat(self, every_seconds: float = HEARTBEAT_SECONDS) -> None:
        if self._thread is not None:
            return

        def beat() -> None:
            while not self._stop.wait(every_seconds):
                self.heartbeat()

        self._thread = threading.Thread(target=beat, name="sender-lock-heartbeat", daemon=True)
        self._thread.start()

    def release(self) -> None:
        if self._fh is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        fh, self._fh = self._fh, None
        with _held_guard:
            if _held.get(self.lock_path) is self:
                del _held[self.lock_path]
        # Remove our record first, while we still hold the lock: nobody else can be writing.
        with contextlib.suppress(OSError):
            if (current := read_holder(self.record_path)) and current.pid == self.holder.pid:
                self.record_path.unlink()
        with contextlib.suppress(OSError):
            _unlock(fh)
        fh.close()
        log.info("released the sender lock (%s)", self.holder.kind)

    def __enter__(self) -> SenderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _workspace_where(workspace: Any) -> tuple[Path | None, str, str]:
    path = getattr(workspace, "path", None)
    url = getattr(workspace, "url", "")
    name = path.name if path is not None else url
    return path, url, name


def acquire_sender_lock(
    workspace: Any, kind: str, *, heartbeat_seconds: float | None = HEARTBEAT_SECONDS
) -> SenderLock:
    """Take the workspace's sender lock for this process, or raise `SenderBusyError`.

    `workspace` is a `Workspace` (anything with `.path` and `.url`). `kind` says what this
    process is ("gui", "run", "send-due"): a refused process shows it. A lock whose holder
    crashed is free again (the OS released it); its old record is logged as taken over.
    With `heartbeat_seconds`, a daemon thread refreshes the record; None for one-shot use.
    """
    path, url, name = _workspace_where(workspace)
    lock_path, record_path = lock_paths(path, url)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fh = _open_lock_file(lock_path)
    except OSError as exc:
        raise StorageError(
            f"Cannot create the sender lock {lock_path}: {exc.strerror or exc}. "
            "Mail is not sent from a folder that cannot be written to."
        ) from exc
    if not _try_lock_patiently(fh):
        fh.close()
        raise SenderBusyError(name, _read_holder_settled(record_path), kind)
    previous = read_holder(record_path)
    if previous is not None:
        # The lock was free but a record remains: its process ended without releasing
        # (crash, SIGKILL, power cut). The OS dropped the lock; we take over.
        log.warning("taking over the sender lock left by %s", previous.describe())
    now = _now_iso()
    holder = SenderHolder(
        pid=os.getpid(), host=socket.gethostname(), kind=kind, since=now, heartbeat=now
    )
    try:
        _write_record(record_path, holder)
    except OSError as exc:
        _unlock(fh)
        fh.close()
        raise StorageError(f"Cannot write the sender lock record {record_path}: {exc}.") from exc
    lock = SenderLock(fh, lock_path, record_path, holder)
    with _held_guard:
        _held[lock_path] = lock
    if heartbeat_seconds:
        lock.start_heartbeat(heartbeat_seconds)
    log.info("holding the sender lock for %s as %s", name, kind)
    return lock


@contextlib.contextmanager
def hold_sender_lock(workspace: Any, kind: str) -> Iterator[SenderLock]:
    """The lock for one unit of sending (`send-due`, a restore); released when the block
    ends. If this process already holds it (the GUI's "send now"), that lock is used and
    kept. Raises `SenderBusyError` (a UserError: the CLI prints who sends, exits 1)."""
    existing = held_lock(workspace)
    if existing is not None:
        yield existing
        return
    lock = acquire_sender_lock(workspace, kind, heartbeat_seconds=None)
    try:
        yield lock
    finally:
        lock.release()


def sending_allowed(workspace: Any, kind: str | None = None) -> bool:
    """For the scheduler's dispatch tick: may this process send now?

    True if this process holds the lock, or just took it (then it keeps it, with a
    heartbeat, until `release_all` or the process ends). False if another process holds
    it; that is logged once per holder, and the next tick tries again, so when the other
    sender stops, this one takes over.
    """
    if held_lock(workspace) is not None:
        return not sending_paused()
    try:
        acquire_sender_lock(workspace, kind or _process_kind)
    except StorageError as exc:  # a read-only folder: no lock, so no sending from here
        log.warning("not sending: %s", exc)
        return False
    except SenderBusyError as exc:
        pid = exc.holder.pid if exc.holder else -1
        path, url, _ = _workspace_where(workspace)
        key = lock_paths(path, url)[0]
        if _last_refusal.get(key) != pid:
            _last_refusal[key] = pid
            log.warning("not sending: %s", exc)
        return False
    return not sending_paused()


def release_all() -> None:
    """Let go of every sender lock this process holds (at shutdown, or a workspace switch)."""
    with _held_guard:
        locks = list(_held.values())
    for lock in locks:
        lock.release()


def current_holder(workspace: Any) -> SenderHolder | None:
    """Who holds the lock right now (None: nobody). Never takes or disturbs the lock."""
    path, url, _ = _workspace_where(workspace)
    lock_path, record_path = lock_paths(path, url)
    if not lock_path.exists():
        return None
    try:
        fh = _open_lock_file(lock_path)
    except OSError:
        return read_holder(record_path)
    try:
        if _try_lock(fh):
            _unlock(fh)
            return None
        return read_holder(record_path)
    finally:
        fh.close()
