"""The workspace: one SQLite file (or, later, any SQLAlchemy URL), its engine and sessions.

Opening a workspace checks what the file is before touching it: a file that is not a
NurtureDesk workspace, is damaged, or was written by a newer version is refused and left
byte-for-byte as it was. A workspace at an older schema is copied aside, then migrated.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from nurturedesk.core.clock import Clock
from nurturedesk.core.errors import DamagedWorkspaceError, StorageError, WorkspaceError
from nurturedesk.core.events import EventBus

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000
# Pages of 16 KiB for a new workspace (SQLite's default is 4 KiB; Firefox uses 32 KiB for
# its places database): fewer, fuller B-tree pages make a 100,000-row import about a tenth
# faster and a search scan a little faster, while a card drop still writes a handful of
# pages (measured: no slower). An existing workspace keeps the page size it was made with.
PAGE_SIZE = 16_384


def alembic_config(connection: Any = None) -> Config:
    from alembic.config import Config  # Alembic is imported only when a migration runs

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


_REVISION_RE = re.compile(r'^(revision|down_revision)\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|None)', re.M)


@functools.cache
def _scanned_revisions() -> dict[str, str | None] | None:
    """revision -> down_revision, read from the version files without importing Alembic
    (~150 ms of every start-up when the workspace is already at head). None if a file does
    not have the plain `revision = "..."` form: then Alembic itself is asked."""
    graph: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        found = {
            m.group(1): m.group(2) or m.group(3) for m in _REVISION_RE.finditer(path.read_text())
        }
        if not found.get("revision"):
            return None
        graph[str(found["revision"])] = found.get("down_revision")
    return graph or None


def head_revision() -> str:
    graph = _scanned_revisions()
    if graph is not None:
        heads = set(graph) - {down for down in graph.values() if down}
        if len(heads) == 1:
            return heads.pop()
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    graph = _scanned_revisions()
    if graph is not None:
        return set(graph)
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _set_sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # Takes effect only on a database with no table yet (a new workspace), and must come
    # before WAL mode, which fixes the page size; on any other database it changes nothing.
    cur.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL mode
    cur.close()


def inspect_sqlite_file(path: Path) -> str | None:
    """Read-only look at an existing file. Returns its schema revision (None: empty database).

    Raises WorkspaceError for anything that must not be opened. Never writes to the file.
    """
    with path.open("rb") as fh:
        header = fh.read(16)
    if header != SQLITE_MAGIC:
        raise WorkspaceError(f"{path} is not a NurtureDesk workspace (not a SQLite database).")
    uri = f"file:{path}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise WorkspaceError(f"{path} cannot be read: {exc}.") from exc
    try:
        ok = conn.execute("PRAGMA quick_check").fetchone()
        if not ok or ok[0] != "ok":
            raise DamagedWorkspaceError(
                f"{path} is damaged ({ok[0] if ok else 'no answer'}); restore it from a backup.",
                path,
            )
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        if "alembic_version" not in tables:
            raise WorkspaceError(
                f"{path} is a SQLite database but not a NurtureDesk workspace; it was left unchanged."
            )
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise DamagedWorkspaceError(f"{path} is damaged or not a workspace: {exc}.", path) from exc
    finally:
        conn.close()
    revision = row[0] if row else None
    if revision is not None and revision not in known_revisions():
        raise WorkspaceError(
            f"{path} was written by a newer version of NurtureDesk (schema {revision}); "
            "update NurtureDesk to open it."
        )
    return revision


def backup_sqlite(source: Path, target: Path) -> None:
    """Consistent copy with SQLite's online backup API (safe while others read or write)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


@dataclass
class Workspace:
    """An open workspace: engine, session factory, event bus and clock for the services."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    path: Path | None = None
    events: EventBus = field(default_factory=EventBus)
    clock: Clock = field(default_factory=Clock)
    _watch_connection: sqlite3.Connection | None = field(default=None, repr=False)
    _data_version: int | None = field(default=None, repr=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on error; disk errors made clear."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                raise storage_error(exc, self.path) from exc
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        if self._watch_connection is not None:
            self._watch_connection.close()
            self._watch_connection = None
        self.engine.dispose()

    def changed_since_last_check(self) -> bool:
        """Has anything (another process, or another connection of ours) committed to the
        workspace since the previous call? Cheap enough to poll every second or two.

        SQLite's `data_version` changes when a connection other than the asking one commits;
        we ask on a connection of our own that never writes.
        """
        if self.path is None:
            return False
        if self._watch_connection is None:
            self._watch_connection = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
            )
        version = self._watch_connection.execute("PRAGMA data_version").fetchone()[0]
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        return changed

    @property
    def display_name(self) -> str:
        return self.path.name if self.path else self.url


def storage_error(exc: OperationalError, path: Path | None) -> Exception:
    """Turn SQLite's environment failures into a message; anything else stays a bug."""
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    where = str(path) if path else "the workspace"
    if "full" in text:
        return StorageError(f"The disk is full: could not save to {where}. Nothing was lost.")
    if "readonly" in text or "read-only" in text:
        return StorageError(f"{where} is read-only: changes cannot be saved.")
    if "locked" in text or "busy" in text:
        return StorageError(f"{where} is busy in another program; try again in a moment.")
    if "disk i/o" in text or "unable to open" in text:
        return StorageError(f"{where} cannot be reached (disk or network drive gone?).")
    return exc


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


def open_workspace(
    target: str | Path,
    *,
    create: bool = True,
    create_folders: bool = True,
    clock: Clock | None = None,
) -> Workspace:
    """Open (and if needed create and migrate) the workspace at a path or SQLAlchemy URL.
    `create_folders`: a missing folder for a new workspace is made, else refused."""
    text_target = str(target)
    if "://" in text_target:
        url, path = text_target, None
        revision: str | None = "unknown"
    else:
        path = Path(text_target).expanduser().resolve()
        url = f"sqlite:///{path}"
        if path.is_dir():
            raise WorkspaceError(f"{path} is a folder, not a workspace file.")
        if path.exists() and path.stat().st_size > 0:
            revision = inspect_sqlite_file(path)
        elif not create:
            raise WorkspaceError(f"There is no workspace at {path}.")
        else:
            revision = None
            if not create_folders and not path.parent.is_dir():
                raise WorkspaceError(f"Folder {path.parent} does not exist.")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WorkspaceError(
                    f"Cannot create a workspace at {path}: {exc.strerror}."
                ) from exc

    head = head_revision()
    if path is not None and revision not in (None, head):
        stamp = f"{revision}-to-{head}"
        backup = path.with_name(f"{path.name}.before-{stamp}.bak")
        log.info("backing up %s to %s before migrating", path, backup)
        backup_sqlite(path, backup)

    engine = make_engine(url)
    if path is None or revision != head:  # at head already: nothing to run, skip Alembic
        try:
            with engine.begin() as conn:
                from alembic import command

                command.upgrade(alembic_config(conn), "head")
        except OperationalError as exc:
            engine.dispose()
            raise storage_error(exc, path) from exc
    sessions = sessionmaker(engine, expire_on_commit=False)
    workspace = Workspace(url=url, engine=engine, sessions=sessions, path=path)
    if clock is not None:
        workspace.clock = clock
    from nurturedesk.core.seed import seed_workspace  # services import db: avoid a cycle

    seed_workspace(workspace)
    return workspace


def table_names(workspace: Workspace) -> list[str]:
    return inspect(workspace.engine).get_table_names()
