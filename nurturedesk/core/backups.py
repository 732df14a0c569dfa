"""Backups: automatic daily copies (rotated), backup to / restore from a chosen file, and
finding the newest good backup of a damaged workspace.

Copies are made with SQLite's online backup API (consistent while the app reads and writes)
into a temporary file, checked (`PRAGMA quick_check`), then renamed into place: a backup
file that exists is a complete one.

Automatic backups live in the user data dir (`backups/<name>-<hash of its path>/`), not
beside the workspace: when the workspace sits on a network drive that vanishes, or a disk
that fills, the local copies are still there to restore from.

Rotation keeps the newest backup of each of the 7 most recent days that have one, and the
newest of each of the 4 most recent ISO weeks; copies the user made by hand are never
rotated away.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from nurturedesk.core.db import Workspace, backup_sqlite, inspect_sqlite_file, open_workspace
from nurturedesk.core.errors import StorageError, UserError, WorkspaceError

log = logging.getLogger(__name__)

KEEP_DAILY = 7
KEEP_WEEKLY = 4
AUTO_PREFIX = "auto-"
STAMP_FORMAT = "%Y%m%d-%H%M%S"
_AUTO_RE = re.compile(r"^auto-(\d{8}-\d{6})\.sqlite$")


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    taken_at: datetime  # naive UTC
    size_bytes: int


@dataclass(frozen=True)
class RestoreResult:
    restored_from: Path
    previous_kept_at: Path | None  # where the workspace as it was before was put aside
    # Queued messages put on hold (uncertain): the workspace as it was could not be read, so
    # they may have gone out after the backup. The user resends them or marks them sent.
    held_mail: int = 0
    # Addresses forgotten since the backup was taken, erased from the restored file again.
    forgotten_again: int = 0

    def held_mail_advice(self) -> str:
        if not self.held_mail:
            return ""
        return (
            f"{self.held_mail} queued message(s) are on hold in the outbox: the workspace as "
            "it was before the restore could not be read, so they may have gone out after "
            "the backup. Check your Sent folder, then resend them or mark them sent."
        )

    def forgotten_advice(self) -> str:
        if not self.forgotten_again:
            return ""
        n = self.forgotten_again
        return (
            f"{n} {'address' if n == 1 else 'addresses'} forgotten since the backup was taken "
            f"{'was' if n == 1 else 'were'} erased from the restored workspace again."
        )


def backups_dir(workspace_path: Path) -> Path:
    """Where the automatic backups of the workspace at this path go."""
    from nurturedesk.paths import user_data_dir

    resolved = Path(workspace_path).expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return user_data_dir() / "backups" / f"{resolved.stem}-{digest}"


def _require_file(workspace: Workspace) -> Path:
    if workspace.path is None:
        raise UserError("Only a workspace file can be backed up from NurtureDesk.")
    return workspace.path


def _os_error(exc: OSError, what: str) -> StorageError:
    import errno

    if exc.errno == errno.ENOSPC:
        return StorageError(f"The disk is full: could not write {what}. Nothing was lost.")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(f"Cannot write {what}: the folder is read-only.")
    return StorageError(f"Cannot write {what}: {exc.strerror or exc}.")


def _copy_checked(source: Path, target: Path) -> None:
    """Consistent copy to `target`, checked before it gets its final name."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        backup_sqlite(source, tmp)
        with contextlib.closing(sqlite3.connect(tmp)) as conn:
            # A backup is one self-contained file (no -wal beside it), readable from a
            # read-only medium.
            conn.execute("PRAGMA journal_mode=DELETE")
            result = conn.execute("PRAGMA quick_check").fetchone()
        if not result or result[0] != "ok":
            raise WorkspaceError(f"The copy of {source} failed its check; nothing was written.")
        os.replace(tmp, target)
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "full" in text:
            raise StorageError(
                f"The disk is full: could not write {target}. Nothing was lost."
            ) from exc
        if "unable to open" in text or "readonly" in text:
            raise StorageError(f"Cannot write {target}: {exc}.") from exc
        raise
    except OSError as exc:
        raise _os_error(exc, str(target)) from exc
    finally:
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-wal", "-shm"))):
            with contextlib.suppress(OSError):
                leftover.unlink()


def backup_to(workspace: Workspace, target: Path, *, overwrite: bool = False) -> BackupInfo:
    """`nurturedesk backup PATH`: a consistent copy of the open workspace at `target`.

    A folder as `target` gets a dated file inside it. An existing file is refused unless
    `overwrite` (a backup must never silently replace something).
    """
    source = _require_file(workspace)
    target = Path(target).expanduser()
    if target.is_dir():
        stamp = workspace.clock.now().strftime(STAMP_FORMAT)
        target = target / f"{source.stem}-{stamp}.sqlite"
    if target.resolve() == source.resolve():
        raise UserError("A backup cannot be written over the workspace itself.")
    if target.exists() and not overwrite:
        raise UserError(f"{target} already exists; choose another name.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(exc, str(target.parent)) from exc
    _copy_checked(source, target)
    log.info("backed up %s to %s", source, target)
    return BackupInfo(target, workspace.clock.now(), target.stat().st_size)


def list_backups(workspace_path: Path) -> list[BackupInfo]:
    """The automatic backups of a workspace, newest first (unchecked)."""
    folder = backups_dir(workspace_path)
    found = []
    if folder.is_dir():
        for path in folder.iterdir():
            match = _AUTO_RE.match(path.name)
            if match:
                taken = datetime.strptime(match.group(1), STAMP_FORMAT)
                with contextlib.suppress(OSError):
                    found.append(BackupInfo(path, taken, path.stat().st_size))
    return sorted(found, key=lambda b: b.taken_at, reverse=True)


def check_backup(path: Path) -> str | None:
    """None if `path` is a good workspace copy we can open; else why not, in words."""
    try:
        inspect_sqlite_file(path)
    except (WorkspaceError, OSError) as exc:
        return str(exc)
    return None


def good_backups(workspace_path: Path) -> list[BackupInfo]:
    """Automatic backups that pass the integrity check, newest first."""
    return [b for b in list_backups(workspace_path) if check_backup(b.path) is None]


def newest_good_backup(workspace_path: Path) -> BackupInfo | None:
    for backup in list_backups(workspace_path):  # newest first: stop at the first good one
        if check_backup(backup.path) is None:
            return backup
    return None


def make_daily_backup(workspace: Workspace) -> BackupInfo:
    """Take an automatic backup now and rotate the old ones."""
    source = _require_file(workspace)
    folder = backups_dir(source)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(exc, str(folder)) from exc
    _remove_abandoned_partials(folder)
    now = workspace.clock.now()
    target = folder / f"{AUTO_PREFIX}{now.strftime(STAMP_FORMAT)}.sqlite"
    _copy_checked(source, target)
    log.info("daily backup of %s written to %s", source, target)
    rotate_backups(source)
    return BackupInfo(target, now, target.stat().st_size)


def _remove_abandoned_partials(folder: Path, older_than_seconds: float = 3600) -> None:
    """Half-written copies of a process that died mid-backup (never a finished backup: those
    only get their name once complete). Young ones may belong to a backup in progress."""
    import time

    for partial in folder.glob(".*.partial*"):
        with contextlib.suppress(OSError):
            if time.time() - partial.stat().st_mtime > older_than_seconds:
                partial.unlink()
                log.info("removed an abandoned partial backup %s", partial)


def backups_to_keep(backups: list[BackupInfo]) -> set[Path]:
    """Newest of each of the last KEEP_DAILY days, and of each of the last KEEP_WEEKLY weeks."""
    newest_first = sorted(backups, key=lambda b: b.taken_at, reverse=True)
    keep: set[Path] = set()
    days: set[object] = set()
    weeks: set[object] = set()
    for backup in newest_first:
        day = backup.taken_at.date()
        week = day.isocalendar()[:2]
        if day not in days and len(days) < KEEP_DAILY:
            days.add(day)
            keep.add(backup.path)
        if week not in weeks and len(weeks) < KEEP_WEEKLY:
            weeks.add(week)
            keep.add(backup.path)
    return keep


def rotate_backups(workspace_path: Path) -> list[Path]:
    """Delete automatic backups the rotation no longer keeps; returns what was deleted."""
    backups = list_backups(workspace_path)
    keep = backups_to_keep(backups)
    removed = []
    for backup in backups:
        if backup.path not in keep:
            try:
                backup.path.unlink()
                removed.append(backup.path)
            except OSError as exc:
                log.warning("could not remove old backup %s: %s", backup.path, exc)
    return removed


def daily_backup_due(workspace: Workspace) -> bool:
    if workspace.path is None:
        return False
    newest = next(iter(list_backups(workspace.path)), None)
    return newest is None or workspace.clock.now() - newest.taken_at >= timedelta(hours=23)


def daily_backup_tick(workspace: Workspace) -> BackupInfo | None:
    """The scheduler's hourly look: a backup when the last one is a day old (or missing)."""
    if not daily_backup_due(workspace):
        return None
    return make_daily_backup(workspace)


def restore_from(source: Path, workspace_path: Path, *, now: datetime) -> RestoreResult:
    """Replace the workspace at `workspace_path` with the backup `source`.

    The backup is checked first (a damaged or foreign file changes nothing). The workspace
    as it was is copied aside (`<name>.before-restore-<time>.sqlite`) before anything is
    replaced. Close the workspace in this process first; other processes that still have it
    open see the restored content (the restore goes through SQLite, not behind its back).
    """
    source = Path(source).expanduser().resolve()
    workspace_path = Path(workspace_path).expanduser().resolve()
    if not source.is_file():
        raise UserError(f"There is no backup at {source}.")
    if source == workspace_path:
        raise UserError("That file is the workspace itself; choose a backup.")
    problem = check_backup(source)
    if problem is not None:
        raise WorkspaceError(f"Not restored: {problem} The workspace was not changed.")

    aside: Path | None = None
    if workspace_path.exists():
        stamp = now.strftime(STAMP_FORMAT)
        aside = workspace_path.with_name(f"{workspace_path.name}.before-restore-{stamp}.sqlite")
        _keep_aside(workspace_path, aside)

    try:
        _restore_through_sqlite(source, workspace_path)
    except sqlite3.DatabaseError as exc:
        # The workspace is too damaged for SQLite to write into: swap the files instead.
        log.warning("restoring by replacing the file (%s)", exc)
        _replace_file(source, workspace_path)
    except OSError as exc:
        raise _os_error(exc, str(workspace_path)) from exc
    problem = check_backup(workspace_path)
    if problem is not None:  # pragma: no cover - would be a bug in the copy
        raise WorkspaceError(f"The restored workspace failed its check: {problem}")
    log.info("restored %s from %s (previous kept at %s)", workspace_path, source, aside)
    if aside is None:
        return RestoreResult(source, aside)
    return _carry_over(source, workspace_path, aside)


def _carry_over(source: Path, workspace_path: Path, aside: Path) -> RestoreResult:
    """What happened since the backup that the restore must not undo: mail that went out
    is not sent again (issue 3), and whoever was forgotten stays forgotten."""
    from nurturedesk.core.outbox_restore import reconcile_after_restore
    from nurturedesk.core.privacy import forget_again_after_restore

    workspace = open_workspace(workspace_path, create=False)
    try:
        held = reconcile_after_restore(workspace, aside).held
        return RestoreResult(source, aside, held, forget_again_after_restore(workspace, aside))
    finally:
        workspace.close()


def _keep_aside(workspace_path: Path, aside: Path) -> None:
    try:
        backup_sqlite(workspace_path, aside)
        return
    except sqlite3.DatabaseError as exc:  # damaged: keep the raw bytes instead
        log.warning("copying %s aside byte for byte (%s)", workspace_path, exc)
        with contextlib.suppress(OSError):
            aside.unlink()
    except OSError as exc:
        raise _os_error(exc, str(aside)) from exc
    try:
        shutil.copy2(workspace_path, aside)
        wal = workspace_path.with_name(workspace_path.name + "-wal")
        if wal.exists():
            shutil.copy2(wal, aside.with_name(aside.name + "-wal"))
    except OSError as exc:
        raise _os_error(exc, str(aside)) from exc


def _restore_through_sqlite(source: Path, target: Path) -> None:
    dst = sqlite3.connect(target, timeout=10)
    try:
        check = dst.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise sqlite3.DatabaseError(f"workspace damaged: {check}")
        page_size = int(dst.execute("PRAGMA page_size").fetchone()[0])
        with _with_page_size(source, page_size, target.parent) as pages:
            src = sqlite3.connect(f"file:{pages}?mode=ro", uri=True)
            try:
                src.backup(dst)
            finally:
                src.close()
    finally:
        dst.close()


@contextlib.contextmanager
def _with_page_size(source: Path, page_size: int, folder: Path) -> Iterator[Path]:
    """The backup itself, or a copy of it rewritten with the workspace's page size: SQLite
    cannot copy pages of one size into a WAL database of another (a backup made before new
    workspaces had 16 KiB pages, restored into a new one, or the other way round)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        same = int(src.execute("PRAGMA page_size").fetchone()[0]) == page_size
    finally:
        src.close()
    if same:
        yield source
        return
    with tempfile.TemporaryDirectory(prefix=".restoring-", dir=folder) as work:
        copy = Path(work) / source.name
        backup_sqlite(source, copy)  # a file of its own, in rollback mode: VACUUM may resize
        conn = sqlite3.connect(copy)
        try:
            conn.execute(f"PRAGMA page_size={page_size}")
            conn.execute("VACUUM")
        finally:
            conn.close()
        yield copy


def _replace_file(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.restoring")
    try:
        backup_sqlite(source, tmp)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                target.with_name(target.name + suffix).unlink()
        os.replace(tmp, target)
    except OSError as exc:
        raise _os_error(exc, str(target)) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def damaged_workspace_advice(workspace_path: Path) -> str:
    """What to tell the user whose workspace failed its integrity check."""
    good = newest_good_backup(workspace_path)
    if good is None:
        return (
            f"No good automatic backup was found in {backups_dir(workspace_path)}; "
            "restore one you made with `nurturedesk restore PATH`."
        )
    return (
        f"The newest good backup is from {good.taken_at:%Y-%m-%d %H:%M} UTC: "
        f"restore it with `nurturedesk restore {good.path}` "
        "(the damaged file is kept aside)."
    )
