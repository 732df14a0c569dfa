"""Funnel stages: the columns of the board."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, UserError, ValidationError, no_such
from nurturedesk.core.events import LeadsChanged, StagesChanged
from nurturedesk.core.models import Lead, Segment, Stage, StageHistory, StageKind
from nurturedesk.core.validation import clean_text

# The nurturing process: capture, qualify, nurture, release, hand off; plus the two places
# a lead goes when it is not (yet) buying.
DEFAULT_STAGES: list[tuple[str, str, StageKind]] = [
    ("New", "#78909c", StageKind.OPEN),
    ("Qualifying", "#5c6bc0", StageKind.OPEN),
    ("Nurturing", "#26a69a", StageKind.OPEN),
    ("Sales-ready", "#ef6c00", StageKind.OPEN),
    ("With sales", "#8e24aa", StageKind.OPEN),
    ("Won", "#2e7d32", StageKind.WON),
    ("Newsletter", "#9e9d24", StageKind.PARKED),
    ("Recycled", "#6d4c41", StageKind.PARKED),
]

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class StageInfo:
    id: int
    name: str
    position: int
    colour: str
    kind: StageKind


def _info(stage: Stage) -> StageInfo:
    return StageInfo(stage.id, stage.name, stage.position, stage.colour, StageKind(stage.kind))


def ensure_default_stages(workspace: Workspace) -> None:
    with workspace.session() as session:
        if session.scalar(select(func.count()).select_from(Stage)):
            return
        for position, (name, colour, kind) in enumerate(DEFAULT_STAGES):
            session.add(Stage(name=name, position=position, colour=colour, kind=kind))


def list_stages(workspace: Workspace) -> list[StageInfo]:
    with workspace.session() as session:
        return [_info(s) for s in session.scalars(select(Stage).order_by(Stage.position))]


def get_stage(workspace: Workspace, stage_id: int) -> StageInfo:
    with workspace.session() as session:
        stage = session.get(Stage, stage_id)
        if stage is None:
            raise NotFoundError(f"No stage #{stage_id}.")
        return _info(stage)


def find_stage(workspace: Workspace, name: str) -> StageInfo:
    """A stage by name, case-insensitively; the error lists the stages there are."""
    stages = list_stages(workspace)
    wanted = name.strip().casefold()
    for stage in stages:
        if stage.name.casefold() == wanted:
            return stage
    raise no_such("stage", name, (s.name for s in stages))


def _checked_name(session: Session, name: str, exclude_id: int | None = None) -> str:
    clean = clean_text(name, 80)
    if not clean:
        raise ValidationError("name", "A stage needs a name.")
    for other in session.scalars(select(Stage)):
        if other.id != exclude_id and other.name.casefold() == clean.casefold():
            raise ValidationError("name", f"There is already a stage named {other.name!r}.")
    return clean


def _checked_colour(colour: str) -> str:
    if not _COLOUR.match(colour):
        raise ValidationError("colour", f"Colour must look like #1e88e5, not {colour!r}.")
    return colour.lower()


def add_stage(
    workspace: Workspace,
    name: str,
    colour: str = "#607d8b",
    kind: StageKind = StageKind.OPEN,
    position: int | None = None,
) -> StageInfo:
    with workspace.session() as session:
        clean = _checked_name(session, name)
        stages = list(session.scalars(select(Stage).order_by(Stage.position)))
        index = len(stages) if position is None else max(0, min(position, len(stages)))
        stage = Stage(name=clean, colour=_checked_colour(colour), kind=kind, position=index)
        session.add(stage)
        stages.insert(index, stage)
        for i, s in enumerate(stages):
            s.position = i
        session.flush()
        info = _info(stage)
    workspace.events.publish(StagesChanged())
    return info


def update_stage(
    workspace: Workspace,
    stage_id: int,
    *,
    name: str | None = None,
    colour: str | None = None,
    kind: StageKind | None = None,
) -> StageInfo:
    with workspace.session() as session:
        stage = session.get(Stage, stage_id)
        if stage is None:
            raise NotFoundError(f"No stage #{stage_id}.")
        if name is not None:
            old_name = stage.name
            stage.name = _checked_name(session, name, exclude_id=stage_id)
            if stage.name != old_name:
                _rename_in_segments(session, old_name, stage.name)
        if colour is not None:
            stage.colour = _checked_colour(colour)
        if kind is not None:
            stage.kind = kind
        info = _info(stage)
    workspace.events.publish(StagesChanged())
    return info


def _rename_in_segments(session: Session, old: str, new: str) -> None:
    """Segments name their stages ("stage = Recycled"): they follow a rename. Before, a
    renamed stage left its segments matching nobody, the board filtered by one showing
    "0 leads match" and its newsletter audience refusing to resolve."""
    for segment in session.scalars(select(Segment)):
        conditions = segment.rules.get("conditions", [])
        renamed = [
            {**c, "value": new}
            if c.get("field") == "stage" and str(c.get("value", "")).casefold() == old.casefold()
            else c
            for c in conditions
        ]
        if renamed != conditions:
            segment.rules = {**segment.rules, "conditions": renamed}


def reorder_stages(workspace: Workspace, ordered_ids: list[int]) -> None:
    with workspace.session() as session:
        stages = {s.id: s for s in session.scalars(select(Stage))}
        if sorted(ordered_ids) != sorted(stages):
            raise UserError("Reordering must list every stage exactly once.")
        for position, stage_id in enumerate(ordered_ids):
            stages[stage_id].position = position
    workspace.events.publish(StagesChanged())


def delete_stage(
    workspace: Workspace, stage_id: int, move_leads_to: int | None = None, *, reason: str = ""
) -> int:
    """Delete a stage; its leads (if any) must be given a stage to go to. Returns how many moved."""
    now = workspace.clock.now()
    with workspace.session() as session:
        stage = session.get(Stage, stage_id)
        if stage is None:
            raise NotFoundError(f"No stage #{stage_id}.")
        if (session.scalar(select(func.count()).select_from(Stage)) or 0) <= 1:
            raise UserError("The board needs at least one stage.")
        lead_ids = list(session.scalars(select(Lead.id).where(Lead.stage_id == stage_id)))
        if lead_ids:
            if move_leads_to is None or move_leads_to == stage_id:
                raise UserError(
                    f"Stage {stage.name!r} holds {len(lead_ids)} leads; choose a stage to move them to."
                )
            target = session.get(Stage, move_leads_to)
            if target is None:
                raise NotFoundError(f"No stage #{move_leads_to}.")
            top = session.scalar(select(func.max(Lead.position)).where(Lead.stage_id == target.id))
            base = (top or 0.0) + 1.0
            for offset, lead_id in enumerate(lead_ids):
                session.execute(
                    update(Lead)
                    .where(Lead.id == lead_id)
                    .values(stage_id=target.id, position=base + offset, stage_entered_at=now)
                )
                session.add(
                    StageHistory(
                        lead_id=lead_id,
                        from_stage_id=stage_id,
                        to_stage_id=target.id,
                        moved_at=now,
                        reason=reason or f"stage {stage.name!r} deleted",
                    )
                )
        session.delete(stage)
        session.flush()
        for position, s in enumerate(session.scalars(select(Stage).order_by(Stage.position))):
            s.position = position
    workspace.events.publish(StagesChanged())
    if lead_ids:
        workspace.events.publish(LeadsChanged(tuple(lead_ids), (stage_id, move_leads_to or 0)))
    return len(lead_ids)
