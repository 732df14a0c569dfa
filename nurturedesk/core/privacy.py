"""Personal data requests: export everything about a person, or forget them.

"Everything" is found, not listed: every table with a `lead_id` column (stage history,
tags, and whatever later capabilities add: interactions, emails sent, enrolments) is
exported and erased with the lead, so a new table is covered without touching this file.

Rows that hold the address itself in a column named email_key, email or to_address (a
plain-text suppression list, an outbox row no longer linked to its lead) are exported and
erased too, even when no lead with the address is left.

Forgetting keeps exactly one thing: the sha256 of the email key in `suppressed_hashes`,
so a later import of the same address is skipped and the nurture engine can ask
`is_suppressed(workspace, email)` before mailing it. SQLite's `secure_delete` is on for
the erase and the WAL is checkpointed, so the address is not left in free pages either.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, func, or_, select, text
from sqlalchemy.orm import Session

from nurturedesk.core.atomic import write_atomically
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError
from nurturedesk.core.events import LeadsChanged
from nurturedesk.core.importer import added_by, suppression_hash
from nurturedesk.core.mailconfig import load_config
from nurturedesk.core.mailer import eml_files
from nurturedesk.core.models import (
    Base,
    ImportBatch,
    Lead,
    Stage,
    SuppressedHash,
    Tag,
    lead_tags,
)
from nurturedesk.core.outbox import file_name
from nurturedesk.core.timestamps import from_micros
from nurturedesk.core.validation import email_key

log = logging.getLogger(__name__)

# Tables that hold a lead's data under another key can add an eraser here:
# fn(session, lead_ids, email_key) runs inside the forget transaction, before the leads go.
FORGET_HOOKS: list[Callable[[Session, list[int], str], None]] = []


@dataclass(frozen=True)
class ForgetResult:
    email_hash: str
    leads: int
    rows_by_table: dict[str, int]
    # The .eml files the file transport had written for them, deleted with their outbox rows.
    mail_files: int = 0
    # Copies of the workspace made earlier (automatic backups, the copy kept aside at a
    # restore) that still hold the address: forget does not reach into them.
    copies: tuple[Path, ...] = ()

    def copies_advice(self) -> str:
        if not self.copies:
            return ""
        one = len(self.copies) == 1
        return (
            f"{len(self.copies)} earlier {'copy' if one else 'copies'} of the workspace still "
            f"{'holds' if one else 'hold'} this person: "
            + ", ".join(str(p) for p in self.copies)
            + ". Automatic backups are rotated away within about four weeks; delete other "
            "copies yourself. Restoring any of them erases the person again."
        )


def is_suppressed(workspace: Workspace, email: str) -> bool:
    """Whether an address must never be mailed: forgotten (hash), or on the nurture
    suppression list (unsubscribed, bounced, do-not-contact)."""
    from nurturedesk.core.models import Suppression

    digest = suppression_hash(email)
    with workspace.session() as session:
        return (
            session.get(SuppressedHash, digest) is not None
            or session.get(Suppression, email_key(email)) is not None
        )


def is_forgotten(workspace: Workspace, email: str) -> bool:
    """Whether this address was forgotten (only its hash is kept, and it stays blocked)."""
    with workspace.session() as session:
        return _forgotten(session, email)


def _forgotten(session: Session, email: str) -> bool:
    return session.get(SuppressedHash, suppression_hash(email_key(email))) is not None


def suppressed_keys(session: Session, keys: set[str]) -> set[str]:
    """Which of these email keys belong to forgotten addresses."""
    if not keys or session.scalar(select(SuppressedHash.hash).limit(1)) is None:
        return set()
    by_hash = {suppression_hash(k): k for k in keys}
    found = set()
    hashes = list(by_hash)
    for start in range(0, len(hashes), 900):
        found |= set(
            session.scalars(
                select(SuppressedHash.hash).where(
                    SuppressedHash.hash.in_(hashes[start : start + 900])
                )
            )
        )
    return {by_hash[h] for h in found}


def watch_returning_addresses(workspace: Workspace) -> None:
    """A forgotten address typed in again as a new lead goes straight back on the nurture
    suppression list, so the engine (which checks that list) never mails it."""
    from nurturedesk.core.suppression import suppress_in

    def on_change(event: LeadsChanged) -> None:
        if event.reason not in ("added", "edited", "restored") or not event.lead_ids:
            return
        with workspace.session() as session:
            emails = dict(
                session.execute(
                    select(Lead.email_key, Lead.email).where(Lead.id.in_(list(event.lead_ids)))
                ).all()
            )
            for key in suppressed_keys(session, set(emails)):
                suppress_in(
                    session,
                    emails[key],
                    "do-not-contact",
                    "asked to be forgotten earlier",
                    workspace.clock.now(),
                )

    workspace.events.subscribe(LeadsChanged, on_change)


def suppress_address(workspace: Workspace, email: str, reason: str = "suppressed") -> str:
    """Keep an address on the hashed suppression list (idempotent); returns the hash."""
    digest = suppression_hash(email)
    with workspace.session() as session:
        if session.get(SuppressedHash, digest) is None:
            session.add(
                SuppressedHash(hash=digest, reason=reason[:40], created_at=workspace.clock.now())
            )
    return digest


# Columns that hold a person's address in tables keyed otherwise (a plain-text suppression
# list, an outbox row detached from its lead, ...): rows matching the address are theirs too.
ADDRESS_COLUMNS = ("email_key", "email", "to_address")


def _rows_about(ids: list[int], key: str) -> list[tuple[Table, ColumnElement[bool]]]:
    """Each table (other than leads, dependents first) with rows about the person, and the
    condition picking those rows: their lead ids, or their address. The export shows
    exactly what forget erases."""
    found = []
    for table in reversed(Base.metadata.sorted_tables):
        if table.name == "leads":
            continue
        about = [func.lower(table.c[name]) == key for name in ADDRESS_COLUMNS if name in table.c]
        if ids and "lead_id" in table.c:
            about.append(table.c.lead_id.in_(ids))
        if about:
            found.append((table, or_(*about)))
    return found


def _lead_ids(session: Session, email: str) -> list[int]:
    """Every lead with this address, live or deleted (a deleted lead is still their data)."""
    return list(session.scalars(select(Lead.id).where(Lead.email_key == email_key(email))))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


# Columns that only copy another one for the app's speed (interactions.day is occurred_at's
# date as a number): nothing a person reading their data needs.
_DERIVED = {("interactions", "day")}


def _readable(table: str, row: Any, stages: dict[int, str]) -> dict[str, Any]:
    """A row as a person can read it: times as ISO text, each stage by its name too."""
    record: dict[str, Any] = {}
    for key, value in row.items():
        if (table, key) in _DERIVED:
            continue
        record[key] = _plain(value)
        if key.endswith("stage_id"):
            record[key.removesuffix("_id")] = None if value is None else stages.get(value, "")
    return record


def _not_found(session: Session, email: str) -> NotFoundError:
    """Nothing about this address is held; say whether it was forgotten earlier."""
    message = f"No lead with email {email.strip()!r}"
    if _forgotten(session, email):
        message += "; it was forgotten earlier and only its hash is kept"
    return NotFoundError(message + ".")


def export_personal_data(workspace: Workspace, email: str) -> dict[str, Any]:
    """Everything stored about the person with this address, as JSON-ready data: their
    leads, and every row about them, whether kept under their lead or their address (an
    address on the suppression list with no lead left is still data held about them)."""
    key = email_key(email)
    with workspace.session() as session:
        ids = _lead_ids(session, email)
        stages = {sid: name for sid, name in session.execute(select(Stage.id, Stage.name))}
        batches = session.scalars(
            select(ImportBatch).where(
                ImportBatch.first_lead_id <= max(ids, default=0),
                ImportBatch.last_lead_id >= min(ids, default=0),
            )
        ).all()
        added = {  # batch -> the person's leads it added (one query a batch, not a lead)
            b.id: set(session.scalars(select(Lead.id).where(Lead.id.in_(ids), added_by(b))))
            for b in batches
            if b.first_lead_id is not None
        }
        leads = []
        for lead in session.scalars(select(Lead).where(Lead.id.in_(ids)).order_by(Lead.id)):
            record = {
                c.name: _plain(getattr(lead, c.key))
                for c in Lead.__table__.columns
                if c.name not in ("search_text", "email_key", "position")
            }
            record["stage"] = stages.get(lead.stage_id, "")
            # Where the data came from, when not from the person (the file it was imported from).
            record["imported_from"] = [
                {"import": b.id, "file": b.file_name, "at": _plain(b.finished_at)}
                for b in batches
                if lead.id in added.get(b.id, ())
            ]
            record["tags"] = sorted(
                session.scalars(
                    select(Tag.name)
                    .join(lead_tags, lead_tags.c.tag_id == Tag.id)
                    .where(lead_tags.c.lead_id == lead.id)
                )
            )
            leads.append(record)
        related: dict[str, list[dict[str, Any]]] = {}
        for table, about in _rows_about(ids, key):
            if table.name == "lead_tags":  # in each lead's "tags"
                continue
            rows = session.execute(
                select(table).where(about).order_by(*table.primary_key.columns)
            ).mappings()
            found = [_readable(table.name, row, stages) for row in rows]
            if found:
                related[table.name] = found
        if not leads and not related:
            raise _not_found(session, email)
    return {
        "exported_at": workspace.clock.now().isoformat(),
        "email": email.strip(),
        "leads": leads,
        "related": related,
    }


def write_personal_data(workspace: Workspace, email: str, path: str | Path) -> Path:
    data = export_personal_data(workspace, email)
    path = Path(path)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def forget_lead(workspace: Workspace, email: str) -> ForgetResult:
    """Erase every lead with this address and all rows about them; keep only the hash.
    An address with no lead but rows of its own (say, on the suppression list) is forgotten
    the same way: its rows go, the hash keeps it unmailable."""
    key = email_key(email)
    digest = suppression_hash(key)
    counts: dict[str, int] = {}
    mails: list[str] = []
    with workspace.session() as session:
        # Overwrite erased content on disk instead of leaving it in free pages.
        session.execute(text("PRAGMA secure_delete = ON"))
        ids = _lead_ids(session, email)
        stage_ids = tuple(session.scalars(select(Lead.stage_id).where(Lead.id.in_(ids)).distinct()))
        for hook in FORGET_HOOKS:
            hook(session, ids, key)
        for table, about in _rows_about(ids, key):
            if table.name == "outbox":
                mails = [
                    file_name(*row)
                    for row in session.execute(select(table.c.id, table.c.message_id).where(about))
                ]
            result = session.execute(delete(table).where(about))
            if result.rowcount:  # type: ignore[attr-defined]
                counts[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
        if not ids and not counts:
            raise _not_found(session, email)  # (rolls back what the hooks did)
        session.execute(delete(Lead).where(Lead.id.in_(ids)))
        counts["leads"] = len(ids)
        if session.get(SuppressedHash, digest) is None:
            session.add(
                SuppressedHash(hash=digest, reason="forgotten", created_at=workspace.clock.now())
            )
    # Fold the WAL (which still holds old copies of the pages) back into the database file
    # and empty it. A reader elsewhere (another process) can hold it back: retry briefly;
    # SQLite's next automatic checkpoint finishes the job otherwise.
    for attempt in range(5):
        with workspace.engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        if busy is None or not busy[0]:
            break
        time.sleep(0.05 * (attempt + 1))
    else:
        log.info("forget: the WAL is still in use by a reader; it is emptied at a later checkpoint")
    if ids:  # (an event without ids means "any lead may have changed")
        workspace.events.publish(LeadsChanged(tuple(ids), stage_ids, "forgotten"))
    return ForgetResult(
        digest,
        len(ids),
        counts,
        _remove_mail_files(workspace, mails),
        copies_holding(workspace, key),
    )


def _remove_mail_files(workspace: Workspace, names: list[str]) -> int:
    """Delete the .eml files a file transport wrote for these messages (the demo's "sent
    mail", or a look before sending): they hold the address, the name and the text."""
    folder = load_config(workspace).file_dir
    removed = 0
    for name in names:
        for path in eml_files(folder, name):
            try:
                path.unlink()
                removed += 1
            except OSError as exc:
                log.warning("forget: could not delete %s: %s", path, exc)
    return removed


def copies_holding(workspace: Workspace, email: str) -> tuple[Path, ...]:
    """The copies of the workspace NurtureDesk made (automatic backups, the copy kept aside
    at a restore) that hold this address; one that cannot be read is counted as holding it."""
    if workspace.path is None:
        return ()
    from nurturedesk.core.backups import list_backups

    key = email_key(email)
    aside = workspace.path.parent.glob(f"{workspace.path.name}.before-restore-*.sqlite")
    candidates = [b.path for b in list_backups(workspace.path)] + sorted(aside)
    return tuple(path for path in candidates if _holds(path, key))


def _holds(path: Path, key: str) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return (
                conn.execute(
                    "SELECT 1 FROM leads WHERE email_key = ?1"
                    " UNION ALL SELECT 1 FROM suppressions WHERE email_key = ?1 LIMIT 1",
                    (key,),
                ).fetchone()
                is not None
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return True


def forget_again_after_restore(workspace: Workspace, previous: Path) -> int:
    """After a backup is restored: whoever was forgotten in `previous` (the workspace as it
    was before the restore) is forgotten again, and every hash it kept is kept. A backup
    taken before a forget still holds the person; restoring it must neither bring them back
    to the board nor let them be imported or mailed again. Returns how many addresses were
    erased again."""
    try:
        conn = sqlite3.connect(f"file:{previous}?mode=ro", uri=True)
        try:
            kept = conn.execute("SELECT hash, reason, created_at FROM suppressed_hashes").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:  # too damaged to read, or older than the hash list
        log.warning("cannot read the forgotten addresses of %s: %s", previous, exc)
        return 0
    forgotten = {digest for digest, reason, _at in kept if reason == "forgotten"}
    with workspace.session() as session:
        have = set(session.scalars(select(SuppressedHash.hash)))
        for digest, reason, at in kept:
            if digest not in have:
                session.add(
                    SuppressedHash(
                        hash=digest,
                        reason=reason,
                        created_at=from_micros(at)
                        if isinstance(at, int)
                        else workspace.clock.now(),
                    )
                )
        # Every address the restored file holds, wherever it is kept (leads included).
        keys = {
            email_key(value)
            for table in Base.metadata.sorted_tables
            for name in ADDRESS_COLUMNS
            if name in table.c
            for value in session.scalars(select(table.c[name]).distinct())
            if value
        }
    again = sorted(k for k in keys if suppression_hash(k) in forgotten)
    for key in again:
        forget_lead(workspace, key)
    return len(again)
