"""SQLAlchemy 2.0 typed ORM tables.

Timestamps are naive UTC datetimes, stored as microseconds since the epoch (`Timestamp`, in
timestamps.py): raw SQL that writes one must write `to_micros(...)`. Each later capability
appends its tables in a section of its own below the foundation's, with a migration of its
own in `migrations/versions/`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from nurturedesk.core.timestamps import Timestamp


class Base(DeclarativeBase):
    pass


# --- Foundation: leads, stages, tags, stage history -------------------------------------


class StageKind(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"
    PARKED = "parked"


lead_tags = Table(
    "lead_tags",
    Base.metadata,
    Column("lead_id", ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_lead_tags_tag", "tag_id"),
)


class Stage(Base):
    __tablename__ = "stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    colour: Mapped[str] = mapped_column(String(9), default="#607d8b")
    kind: Mapped[StageKind] = mapped_column(
        Enum(
            StageKind,
            native_enum=False,
            length=10,
            values_callable=lambda kinds: [k.value for k in kinds],  # store "open", not "OPEN"
        ),
        default=StageKind.OPEN,
    )


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    # Lower-cased email: the case-insensitive identity, unique among live leads.
    email_key: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str] = mapped_column(String(120), default="")
    last_name: Mapped[str] = mapped_column(String(120), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(60), default="")
    source: Mapped[str] = mapped_column(String(120), default="")
    owner: Mapped[str] = mapped_column(String(120), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Lower-cased name, email and company: what search-as-you-type matches against.
    search_text: Mapped[str] = mapped_column(Text, default="")
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    # Order of the card inside its column; fractional so a drop between two cards is one write.
    position: Mapped[float] = mapped_column(Float, default=0.0)
    stage_entered_at: Mapped[datetime] = mapped_column(Timestamp)
    score: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    # Deleting from the board is soft so it can be undone; "forget" erases for real.
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)

    stage: Mapped[Stage] = relationship(lazy="joined")
    tags: Mapped[list[Tag]] = relationship(secondary=lead_tags, lazy="selectin")

    __table_args__ = (
        Index(
            "uq_leads_email_key_live",
            "email_key",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # The board's index: a column's cards in order, and (covering search_text) search and
        # counts without reading the wide table rows: 100,000 leads searched in ~12 ms.
        Index("ix_leads_board", "stage_id", "deleted_at", "position", "id", "search_text"),
        # Covering, so the filter menus stay instant; only leads that have an owner (most
        # imported leads have none, and an import builds this index once per 100,000 rows).
        # SQLite uses it for a query whose WHERE says `owner != ''` (a bound '' will do).
        Index("ix_leads_owner", "owner", "deleted_at", sqlite_where=text("owner != ''")),
        Index("ix_leads_source", "source", "deleted_at"),
    )


class StageHistory(Base):
    __tablename__ = "stage_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    from_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("stages.id", ondelete="SET NULL"), nullable=True
    )
    to_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("stages.id", ondelete="SET NULL"), nullable=True
    )
    # Not indexed: nothing looks history up by date, and the index cost every import and
    # move a write (migration 0006 drops it).
    moved_at: Mapped[datetime] = mapped_column(Timestamp)
    reason: Mapped[str] = mapped_column(String(200), default="")


class Setting(Base):
    """Workspace-wide settings (stale threshold, ...): they travel with the workspace file."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


# --- Nurture: content library, templates, sequences, enrolments, outbox, suppression ------


class Asset(Base):
    """A piece of educational content an email points to (never a sales brochure)."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="article")
    url: Mapped[str] = mapped_column(String(1000))
    topic: Mapped[str] = mapped_column(String(120), default="")
    target_tags: Mapped[str] = mapped_column(String(400), default="")  # comma-separated
    notes: Mapped[str] = mapped_column(Text, default="")


class EmailTemplate(Base):
    """Subject and Markdown body with Jinja2 tokens; validated when saved."""

    __tablename__ = "email_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    subject: Mapped[str] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class NurtureSequence(Base):
    """A nurture track: ordered steps, a send window in the lead's time zone."""

    __tablename__ = "sequences"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # Days of the week the track may send on, Monday=0, as "0,1,2,3,4".
    window_days: Mapped[str] = mapped_column(String(20), default="0,1,2,3,4")
    window_start_hour: Mapped[int] = mapped_column(Integer, default=9)
    window_end_hour: Mapped[int] = mapped_column(Integer, default=17)
    # Leads carrying this tag are enrolled automatically (once).
    enroll_tag: Mapped[str] = mapped_column(String(80), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class SequenceStep(Base):
    __tablename__ = "sequence_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(
        ForeignKey("sequences.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    template_id: Mapped[int] = mapped_column(ForeignKey("email_templates.id"))
    # Delay after the previous step (after enrolment for the first step).
    delay_days: Mapped[float] = mapped_column(Float, default=7.0)


class StageSequence(Base):
    """Entering this stage enrols the lead in this sequence (Nurturing -> default track)."""

    __tablename__ = "stage_sequences"

    stage_id: Mapped[int] = mapped_column(
        ForeignKey("stages.id", ondelete="CASCADE"), primary_key=True
    )
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))


class Enrollment(Base):
    """A lead's place in a sequence. `next_send_at` is the one truth about what is due."""

    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    # active | paused | completed | stopped
    state: Mapped[str] = mapped_column(String(12), default="active")
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_send_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    # Re-enrolling after completion starts a new round; (enrolment, round, step) is sent once.
    round: Mapped[int] = mapped_column(Integer, default=0)
    enrolled_at: Mapped[datetime] = mapped_column(Timestamp)
    how: Mapped[str] = mapped_column(String(40), default="by hand")
    stopped_reason: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (
        UniqueConstraint("lead_id", "sequence_id", name="uq_enrollments_lead_sequence"),
        Index("ix_enrollments_due", "state", "next_send_at"),
    )


class OutboxMessage(Base):
    """One email to send. queued -> sending -> sent | retry | failed | uncertain (| cancelled)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), nullable=True, index=True
    )
    enrollment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollments.id", ondelete="SET NULL"), nullable=True
    )
    round: Mapped[int | None] = mapped_column(Integer, nullable=True)
    step_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(12), default="nurture")  # nurture | newsletter
    to_address: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(250), default="")
    subject: Mapped[str] = mapped_column(String(400))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    list_unsubscribe: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)

    __table_args__ = (
        # The guarantee behind "never twice": one row per enrolment step and round.
        UniqueConstraint("enrollment_id", "round", "step_position", name="uq_outbox_step"),
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_sent_at", "sent_at"),
    )


class Suppression(Base):
    """Addresses never mailed, whatever sequence they are in."""

    __tablename__ = "suppressions"

    email_key: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(20))  # unsubscribed | bounced | do-not-contact
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Bounce(Base):
    """A permanent refusal recorded against a lead."""

    __tablename__ = "bounces"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), nullable=True, index=True
    )
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True
    )
    email: Mapped[str] = mapped_column(String(320))
    code: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(Timestamp)


class UnsubscribeToken(Base):
    """The per-lead token carried in List-Unsubscribe."""

    __tablename__ = "unsubscribe_tokens"

    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)


class Newsletter(Base):
    """A broadcast from a template to a stage, a tag and/or a segment: once, monthly or
    quarterly (all the audience criteria given must hold)."""

    __tablename__ = "newsletters"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("email_templates.id"))
    stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("stages.id", ondelete="SET NULL"), nullable=True
    )
    tag: Mapped[str] = mapped_column(String(80), default="")
    # A saved segment's name (issue 5), "" for none. By name, like `tag`: members are evaluated
    # at each run, and a segment deleted then saved again (its undo) is the same audience.
    segment: Mapped[str] = mapped_column(String(80), default="", server_default="")
    recurrence: Mapped[str] = mapped_column(String(12), default="once")  # once|monthly|quarterly
    next_run_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)


# --- Scoring, qualification and release to sales (issue 4) -------------------------------


class Interaction(Base):
    """One thing that happened with a lead: an email event or an activity logged by hand."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(Timestamp)
    # UTC calendar day of `occurred_at` (date ordinal): decay and caps count whole days, and
    # re-scoring 1M rows groups on this integer instead of parsing timestamps.
    day: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(40), default="manual")
    # Idempotency key for machine-recorded events (e.g. "outbox:42:sent"): recorded once.
    source_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)

    __table_args__ = (
        Index("ix_interactions_timeline", "lead_id", "occurred_at", "id"),
        Index("ix_interactions_score", "lead_id", "type", "day"),
        Index(
            "uq_interactions_source_ref",
            "source_ref",
            unique=True,
            sqlite_where=text("source_ref IS NOT NULL"),
            postgresql_where=text("source_ref IS NOT NULL"),
        ),
    )


class LeadScoring(Base):
    """Per-lead scoring state beside `Lead.score`: fit grade and the release latch."""

    __tablename__ = "lead_scoring"

    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    fit_points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    grade: Mapped[str] = mapped_column(String(1), default="", server_default="")
    # Latched when the lead crosses the threshold; re-armed only once the score falls below
    # threshold - hysteresis, so a score wobbling around the threshold fires one release.
    released: Mapped[bool] = mapped_column(default=False, server_default="0")
    released_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class QualificationAnswer(Base):
    __tablename__ = "qualification_answers"

    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    question: Mapped[str] = mapped_column(String(40), primary_key=True)
    answer: Mapped[str] = mapped_column(String(80))
    answered_at: Mapped[datetime] = mapped_column(Timestamp)


class ReleaseEvent(Base):
    """A notification to give (sales-ready, follow-up overdue), delivered once by a running app.

    Recorded in the same transaction as the change that caused it, by whichever process made
    it; a running GUI or headless `run` claims it with `UPDATE ... WHERE delivered_at IS NULL`.
    """

    __tablename__ = "release_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "sales_ready" | "overdue"
    score: Mapped[int] = mapped_column(Integer)
    grade: Mapped[str] = mapped_column(String(1), default="")
    message: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    delivered_via: Mapped[str] = mapped_column(String(20), default="")

    __table_args__ = (Index("ix_release_events_pending", "delivered_at", "id"),)


class Handoff(Base):
    """The current hand-off of a sales-ready lead to sales (one per lead, reused on recycle)."""

    __tablename__ = "handoffs"

    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    owner: Mapped[str] = mapped_column(String(120), default="")
    state: Mapped[str] = mapped_column(String(20))  # pending | accepted | rejected | recycled
    released_at: Mapped[datetime] = mapped_column(Timestamp)
    due_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    overdue_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    reason: Mapped[str] = mapped_column(String(400), default="")
    recycle_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


# --- Import, export, segments, personal data requests (issue 5) --------------------------


class ImportBatch(Base):
    """One finished import: what it did, so it can be shown and undone as a whole.

    Leads created by an import get consecutive ids (assigned under the write lock), so the
    batch keeps only their range; leads it updated keep a before-image in ImportBatchUpdate.
    """

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(400))
    policy: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    first_lead_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_lead_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Tags this import created (removed again on undo if nothing else uses them).
    created_tag_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    undone_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class ImportBatchUpdate(Base):
    """An existing lead as it was before an import changed it (for undoing the import)."""

    __tablename__ = "import_batch_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("import_batches.id", ondelete="CASCADE"), index=True
    )
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    before: Mapped[dict[str, Any]] = mapped_column(JSON)


class Segment(Base):
    """A saved filter; membership is evaluated each time it is used."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class SuppressedHash(Base):
    """An address that must never be mailed again, kept only as sha256 of its email key
    (what remains of a lead after "forget")."""

    __tablename__ = "suppressed_hashes"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40), default="forgotten")
    created_at: Mapped[datetime] = mapped_column(Timestamp)
