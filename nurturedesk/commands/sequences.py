"""`sequence add|list|enroll|enrolments`: nurture tracks from the command line."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from nurturedesk.core import sequences
from nurturedesk.core.errors import UserError
from nurturedesk.core.leads import find_lead
from nurturedesk.core.stages import find_stage
from nurturedesk.core.templates import find_template

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context
    from nurturedesk.core.db import Workspace


def _parse_step(ws: object, text: str) -> tuple[int, float]:
    name, sep, days = text.rpartition(":")
    if not sep:
        raise UserError(f"A step is TEMPLATE:DAYS (e.g. 'Nurture 1: guide:0'), not {text!r}.")
    try:
        delay = float(days)
    except ValueError:
        raise UserError(f"The delay in {text!r} must be a number of days.") from None
    return find_template(ws, name).id, delay  # type: ignore[arg-type]


def add(ctx: Context) -> int:
    a = ctx.args
    ws = ctx.workspace()
    steps = [_parse_step(ws, s) for s in a.step]
    try:
        days = [int(d) for d in a.days.split(",") if d.strip()]
        start, end = (int(h) for h in a.hours.split("-"))
    except ValueError:
        raise UserError("--days is like 0,1,2,3,4 (Monday=0) and --hours like 9-17.") from None
    existing = {s.name.casefold(): s.id for s in sequences.list_sequences(ws)}
    info = sequences.save_sequence(
        ws,
        a.name,
        steps,
        window_days=days,
        window_hours=(start, end),
        enroll_tag=a.tag or "",
        sequence_id=existing.get(a.name.strip().casefold()),
    )
    if a.stage:
        sequences.set_stage_sequence(ws, find_stage(ws, a.stage).id, info.id)
    print(f"Saved sequence #{info.id} {info.name!r} with {len(info.steps)} steps")
    return 0


def list_(ctx: Context) -> int:
    items = sequences.list_sequences(ctx.workspace())
    if ctx.args.json:
        ctx.print_json([asdict(s) for s in items])
        return 0
    for s in items:
        steps = ", ".join(f"{st.template_name} (+{st.delay_days:g}d)" for st in s.steps)
        stages = f" [enrols from: {', '.join(s.stages)}]" if s.stages else ""
        print(f"#{s.id}\t{s.name}\t{s.active_enrolments} active\t{steps}{stages}")
    return 0


def enroll(ctx: Context) -> int:
    ws = ctx.workspace()
    if ctx.args.email and ctx.args.segment:
        raise UserError("Give a lead's EMAIL or --segment NAME, not both.")
    if not (ctx.args.email or ctx.args.segment):
        raise UserError("Say whom to enrol: a lead's EMAIL, or --segment NAME.")
    seq = sequences.find_sequence(ws, ctx.args.sequence)
    if ctx.args.segment:
        return _enroll_segment(ws, ctx.args.segment, seq)
    lead = find_lead(ws, ctx.args.email)
    if sequences.enroll(ws, [lead.id], seq.id):
        nxt = sequences.next_email(ws, lead.id)
        due = f"; first email due {nxt.due:%Y-%m-%d %H:%M} UTC" if nxt else ""
        print(f"Enrolled {lead.name} in {seq.name}{due}")
    else:
        print(f"{lead.name} is already enrolled in {seq.name}")
    return 0


def _enroll_segment(ws: Workspace, name: str, seq: sequences.SequenceInfo) -> int:
    """The segment's members now (evaluated at this moment, like `bulk enrol --segment`);
    suppressed addresses are left out and counted, running enrolments are left alone."""
    from nurturedesk.core.bulk import enrol_leads
    from nurturedesk.core.segments import get_segment, segment_lead_ids

    segment = get_segment(ws, name)
    members = segment_lead_ids(ws, segment.name)
    change = enrol_leads(ws, members, seq.id)
    already = len(members) - len(change.before) - len(change.suppressed)
    text = f"Enrolled {len(change.before)} of {len(members)} leads in segment {segment.name!r}"
    text += f" in {seq.name}"
    if already:
        text += f"; {already} already enrolled"
    if change.suppressed:
        text += f"; {len(change.suppressed)} left out (on the suppression list)"
    print(text)
    return 0


def enrolments(ctx: Context) -> int:
    ws = ctx.workspace()
    lead_id = find_lead(ws, ctx.args.lead).id if ctx.args.lead else None
    items = sequences.list_enrollments(ws, lead_id=lead_id)
    if ctx.args.json:
        ctx.print_json([asdict(e) for e in items])
        return 0
    for e in items:
        due = f"{e.next_send_at:%Y-%m-%d %H:%M}" if e.next_send_at else "-"
        print(
            f"#{e.id}\t{e.lead_email}\t{e.sequence_name}\t{e.state}\t"
            f"step {min(e.next_step + 1, e.steps)}/{e.steps}\t{due}\t{e.stopped_reason}"
        )
    return 0


def register(cli: CommandLine) -> None:
    cli.group("sequence", "nurture tracks: steps, windows, enrolment")
    p = cli.command("add", add, "add or replace a sequence", group="sequence")
    p.add_argument("name")
    p.add_argument(
        "--step", action="append", required=True, metavar="TEMPLATE:DAYS", help="repeat, in order"
    )
    p.add_argument("--days", default="0,1,2,3,4", help="send days, Monday=0 (default 0-4)")
    p.add_argument("--hours", default="9-17", help="send hours in the lead's zone (default 9-17)")
    p.add_argument("--stage", help="entering this stage enrols the lead")
    p.add_argument("--tag", help="leads with this tag are enrolled")
    p = cli.command("list", list_, "list sequences", group="sequence")
    p.add_argument("--json", action="store_true")
    p = cli.command(
        "enroll", enroll, "enrol a lead, or a segment's leads, in a sequence", group="sequence"
    )
    p.add_argument("email", nargs="?", help="the lead's address (or use --segment)")
    p.add_argument("sequence")
    p.add_argument("--segment", metavar="NAME", help="enrol every lead in this saved segment")
    p = cli.command("enrolments", enrolments, "list enrolments", group="sequence")
    p.add_argument("--lead", help="only this lead's (email)")
    p.add_argument("--json", action="store_true")
