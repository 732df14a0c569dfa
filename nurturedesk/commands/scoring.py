"""`lead log|show|qualify|accept|reject|assign` and `scoring show|set|undo|rescore|notices`."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from nurturedesk.core import interactions, qualification, release, scoring
from nurturedesk.core import leads as lead_service
from nurturedesk.core.errors import UserError, ValidationError
from nurturedesk.core.scoring_rules import (
    INTERACTION_TYPES,
    Cap,
    Question,
    ScoringRules,
    normalize_type,
)

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


# --- lead ... -----------------------------------------------------------------------------


def log_(ctx: Context) -> int:
    a = ctx.args
    ws = ctx.workspace()
    lead = lead_service.find_lead(ws, a.email)
    at = interactions.parse_time(a.at) if a.at else None
    result = interactions.record(ws, lead.id, a.type, at, a.note or "", source="cli")
    info = result.interaction
    score = result.scores.get(lead.id, lead.score)
    delta = score - lead.score
    line = f"Logged {info.label.lower()} for {lead.name}: score {score} ({delta:+d})"
    if lead.id in result.released:
        line += " - now sales-ready"
    print(line)
    return 0


def lead_report(ws: Any, lead: lead_service.LeadDetail) -> dict[str, Any]:
    ledger = scoring.explain(ws, lead.id)
    fresh = lead_service.get_lead(ws, lead.id)
    fit = qualification.get_fit(ws, lead.id)
    badge = release.badges(ws, [lead.id]).get(lead.id, release.Badges())
    handoff = release.get_handoff(ws, lead.id)
    return {
        "id": fresh.id,
        "email": fresh.email,
        "name": fresh.name,
        "company": fresh.company,
        "stage": fresh.stage_name,
        "score": fresh.score,
        "grade": fit.grade,
        "fit_points": fit.fit_points,
        "answers": fit.answers,
        "sales_ready": badge.sales_ready,
        "overdue": badge.overdue,
        "handoff": None
        if handoff is None
        else {k: _iso(v) if k.endswith("_at") else v for k, v in asdict(handoff).items()},
        "ledger": {
            "as_of": ledger.as_of.isoformat(),
            "total": ledger.total,
            "entries": [
                {
                    "interaction_id": e.interaction_id,
                    "type": e.type,
                    "at": e.occurred_at.isoformat(),
                    "points": e.points,
                    "counted": e.counted,
                    "age_days": e.age_days,
                    "factor": round(e.factor, 6),
                    "contribution": e.contribution,
                    "why": e.why,
                }
                for e in ledger.entries
            ],
        },
        "interactions": [
            {
                "id": i.id,
                "type": i.type,
                "at": i.occurred_at.isoformat(),
                "note": i.note,
                "source": i.source,
            }
            for i in interactions.timeline(ws, lead.id)
        ],
    }


def show(ctx: Context) -> int:
    ws = ctx.workspace()
    report = lead_report(ws, lead_service.find_lead(ws, ctx.args.email))
    if ctx.args.json:
        ctx.print_json(report)
        return 0
    grade = report["grade"] or "-"
    print(f"{report['name']} <{report['email']}>  {report['stage']}")
    flags = [f for f in ("sales_ready", "overdue") if report[f]]
    print(f"Score {report['score']}  Grade {grade}  {' '.join(flags)}".rstrip())
    print("Why this score:")
    for e in report["ledger"]["entries"]:
        print(f"  {e['contribution']:+4d}  {e['at'][:16]}  {e['why']}")
    print(f"  ----\n  {report['ledger']['total']:4d}")
    return 0


def qualify(ctx: Context) -> int:
    ws = ctx.workspace()
    lead = lead_service.find_lead(ws, ctx.args.email)
    answers: dict[str, str] = {}
    for item in ctx.args.answer or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError("answer", f"--answer takes QUESTION=ANSWER, not {item!r}.")
        answers[key.strip()] = value.strip()
    if not answers:
        rules = scoring.get_rules(ws)
        for q in rules.questions:
            print(f"{q.key}: {', '.join(q.options)}")
        fit = qualification.get_fit(ws, lead.id)
    else:
        fit = qualification.qualify(ws, lead.id, answers)
    print(f"{lead.name}: fit {fit.fit_points} points, grade {fit.grade or '-'}")
    return 0


def accept(ctx: Context) -> int:
    ws = ctx.workspace()
    lead = lead_service.find_lead(ws, ctx.args.email)
    info = release.accept(ws, lead.id, ctx.args.owner)
    print(f"{lead.name} accepted by sales{f' ({info.owner})' if info.owner else ''}")
    return 0


def reject(ctx: Context) -> int:
    ws = ctx.workspace()
    lead = lead_service.find_lead(ws, ctx.args.email)
    info = release.reject(ws, lead.id, ctx.args.reason)
    back = f"{info.recycle_at:%Y-%m-%d}" if info.recycle_at else "later"
    print(f"{lead.name} rejected ({info.reason}); back into nurturing on {back}")
    return 0


def assign(ctx: Context) -> int:
    ws = ctx.workspace()
    lead = lead_service.find_lead(ws, ctx.args.email)
    info = release.assign(ws, lead.id, ctx.args.owner)
    print(f"{lead.name}: follow-up by {info.owner} before {info.due_at:%Y-%m-%d %H:%M} UTC")
    return 0


# --- scoring ... --------------------------------------------------------------------------


def _rules_json(rules: ScoringRules) -> dict[str, Any]:
    return rules.to_json()


def show_rules(ctx: Context) -> int:
    rules = scoring.get_rules(ctx.workspace())
    if ctx.args.json:
        ctx.print_json(_rules_json(rules))
        return 0
    print("Points per interaction:")
    for type_, label in INTERACTION_TYPES.items():
        cap = rules.caps.get(type_)
        capped = f"  (at most {cap.points} per {cap.days} days)" if cap else ""
        print(f"  {type_:<22} {rules.points_for(type_):+4d}  {label}{capped}")
    hl = f"{rules.half_life_days:g} days" if rules.half_life_days else "off"
    print(f"Decay half-life: {hl}")
    print(
        f"Sales-ready at score >= {rules.threshold} (re-armed below "
        f"{rules.threshold - rules.hysteresis}), minimum grade: {rules.min_grade or 'any'}"
    )
    print(
        f"On release: {'move to ' + rules.release_stage if rules.release_mode == 'move' else 'flag only'}, "
        f"follow up within {rules.follow_up_hours} h; rejected leads back after "
        f"{rules.recycle_days} days; lost leads "
        + (f"after {rules.lost_recycle_days} days" if rules.lost_recycle_days else "not recycled")
    )
    print("Qualification:")
    for q in rules.questions:
        options = ", ".join(f"{k}={v}" for k, v in q.options.items())
        print(f"  {q.key:<14} {options}")
    bounds = ", ".join(f"{g} >= {p}" for g, p in rules.grade_bounds.items())
    print(f"Grades: {bounds}, else D")
    return 0


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise ValidationError(what, f"{what}: {text!r} is not a whole number.") from exc


def set_rules(ctx: Context) -> int:
    a = ctx.args
    ws = ctx.workspace()
    rules = scoring.get_rules(ws)
    points = dict(rules.points)
    for item in a.points or []:
        type_, sep, value = item.partition("=")
        if not sep:
            raise ValidationError("points", f"--points takes TYPE=N, not {item!r}.")
        points[normalize_type(type_)] = _int(value, "points")
    caps = dict(rules.caps)
    for item in a.cap or []:
        type_, sep, value = item.partition("=")
        if not sep:
            raise ValidationError("cap", f"--cap takes TYPE=N/DAYS or TYPE=off, not {item!r}.")
        key = normalize_type(type_)
        if value.strip().lower() in ("off", "none", ""):
            caps.pop(key, None)
            continue
        n, slash, days = value.partition("/")
        caps[key] = Cap(_int(n, "cap"), _int(days, "cap period") if slash else 7)
    changes: dict[str, Any] = {"points": points, "caps": caps}
    if a.half_life is not None:
        off = a.half_life.strip().lower() in ("off", "none", "0")
        try:
            changes["half_life_days"] = None if off else float(a.half_life)
        except ValueError as exc:
            raise ValidationError("half_life_days", "--half-life takes days or 'off'.") from exc
    for name in ("threshold", "hysteresis", "follow_up_hours", "recycle_days", "lost_recycle_days"):
        value = getattr(a, name)
        if value is not None:
            changes[name] = value
    if a.min_grade is not None:
        changes["min_grade"] = "" if a.min_grade.lower() == "any" else a.min_grade.upper()
    if a.release_mode is not None:
        changes["release_mode"] = a.release_mode
    if a.owner is not None:
        changes["default_owner"] = a.owner
    if a.grades is not None:
        bounds: dict[str, int] = {}
        for item in a.grades.split(","):
            grade, sep, points = item.partition("=")
            if not sep or grade.strip().upper() not in ("A", "B", "C"):
                raise ValidationError("grades", "--grades takes A=70,B=45,C=20 (D is the rest).")
            bounds[grade.strip().upper()] = _int(points, "grade bound")
        changes["grade_bounds"] = {**rules.grade_bounds, **bounds}
    new = replace(rules, **changes)
    if new == rules:
        print("Nothing to change.")
        return 0
    start = time.perf_counter()
    change = scoring.set_rules(ws, new)
    took = time.perf_counter() - start
    print(
        f"Rules changed: {change.changed} scores changed, {len(change.released)} leads "
        f"became sales-ready ({took:.2f} s). `scoring undo` takes it back."
    )
    return 0


def question(ctx: Context) -> int:
    """Add, change or remove a qualification question (re-grades every answered lead)."""
    a = ctx.args
    ws = ctx.workspace()
    rules = scoring.get_rules(ws)
    key = a.key.strip().lower().replace("-", "_").replace(" ", "_")
    others = tuple(q for q in rules.questions if q.key != key)
    if a.remove:
        if len(others) == len(rules.questions):
            raise ValidationError("question", f"There is no question {key!r}.")
        questions = others
    else:
        if not a.option:
            raise ValidationError("option", "Give the answers: --option yes=20 --option no=0.")
        options: dict[str, int] = {}
        for item in a.option:
            answer, sep, points = item.partition("=")
            if not sep or not answer.strip():
                raise ValidationError("option", f"--option takes ANSWER=POINTS, not {item!r}.")
            options[answer.strip()] = _int(points, "points")
        old = rules.question(key)
        label = a.label or (old.label if old else key.replace("_", " ").capitalize())
        new_q = Question(key, label, options)
        questions = tuple(new_q if q.key == key else q for q in rules.questions)
        if old is None:
            questions = (*questions, new_q)
    change = scoring.set_rules(ws, replace(rules, questions=questions))
    print(
        f"Questions: {', '.join(q.key for q in questions)}; "
        f"{len(change.released)} leads became sales-ready. `scoring undo` takes it back."
    )
    return 0


def undo(ctx: Context) -> int:
    change = scoring.undo_rules(ctx.workspace())
    print(f"Previous rules restored: {change.changed} scores changed.")
    return 0


def rescore(ctx: Context) -> int:
    start = time.perf_counter()
    result = scoring.rescore_all(ctx.workspace())
    took = time.perf_counter() - start
    print(
        f"Re-scored every lead in {took:.2f} s: {result.changed} changed, "
        f"{len(result.released)} became sales-ready"
    )
    return 0


def notices(ctx: Context) -> int:
    ws = ctx.workspace()
    if ctx.args.deliver:
        delivered = release.deliver_pending(ws)
        print(f"Delivered {len(delivered)} notices")
        return 0
    items = release.recent_notices(ws, ctx.args.limit)
    if ctx.args.json:
        ctx.print_json(
            [
                {
                    **asdict(n),
                    "created_at": _iso(n.created_at),
                    "delivered_at": _iso(n.delivered_at),
                }
                for n in items
            ]
        )
        return 0
    for n in items:
        state = f"shown ({n.delivered_via})" if n.delivered_at else "waiting"
        print(f"{n.created_at:%Y-%m-%d %H:%M}  {state:<16} {n.message}")
    return 0


def register(cli: CommandLine) -> None:
    cli.group("lead", "add, list and move leads")
    p = cli.command("log", log_, "log an interaction (re-scores the lead)", group="lead")
    p.add_argument("email")
    p.add_argument("type", help=f"one of: {', '.join(INTERACTION_TYPES)}")
    p.add_argument("--note", help="what happened, in words")
    p.add_argument("--at", help="when (ISO time, UTC unless it has an offset; default now)")
    p = cli.command("show", show, "a lead's score, grade, ledger and timeline", group="lead")
    p.add_argument("email")
    p.add_argument("--json", action="store_true")
    p = cli.command("qualify", qualify, "answer qualification questions", group="lead")
    p.add_argument("email")
    p.add_argument(
        "--answer", action="append", metavar="Q=A", help="e.g. budget=yes (repeat; Q= clears)"
    )
    p = cli.command("accept", accept, "sales accepts a sales-ready lead", group="lead")
    p.add_argument("email")
    p.add_argument("--owner")
    p = cli.command("reject", reject, "sales rejects a sales-ready lead", group="lead")
    p.add_argument("email")
    p.add_argument("--reason", required=True, help="why (kept)")
    p = cli.command("assign", assign, "give a sales-ready lead an owner", group="lead")
    p.add_argument("email")
    p.add_argument("owner")

    cli.group("scoring", "scoring rules, re-scoring and release notices")
    p = cli.command("show", show_rules, "show the scoring rules", group="scoring")
    p.add_argument("--json", action="store_true")
    p = cli.command("set", set_rules, "change the scoring rules (re-scores)", group="scoring")
    p.add_argument("--points", action="append", metavar="TYPE=N", help="points (repeat)")
    p.add_argument("--cap", action="append", metavar="TYPE=N/DAYS", help="cap, or TYPE=off")
    p.add_argument("--half-life", metavar="DAYS", help="decay half-life in days, or 'off'")
    p.add_argument("--threshold", type=int, help="sales-ready score")
    p.add_argument("--hysteresis", type=int, help="points below the threshold to re-arm")
    p.add_argument("--min-grade", choices=["A", "B", "C", "D", "any", "a", "b", "c", "d"])
    p.add_argument("--release-mode", choices=["move", "flag"])
    p.add_argument("--follow-up-hours", type=int)
    p.add_argument("--recycle-days", type=int)
    p.add_argument("--lost-recycle-days", type=int)
    p.add_argument("--owner", help="default owner of released leads")
    p.add_argument("--grades", metavar="A=N,B=N,C=N", help="fit points needed per grade")
    p = cli.command(
        "question", question, "add, change or remove a qualification question", group="scoring"
    )
    p.add_argument("key", help="e.g. budget")
    p.add_argument("--label", help="what the lead editor shows")
    p.add_argument("--option", action="append", metavar="ANSWER=POINTS", help="repeat")
    p.add_argument("--remove", action="store_true")
    cli.command("undo", undo, "undo the last rule change", group="scoring")
    cli.command("rescore", rescore, "re-score every lead now", group="scoring")
    p = cli.command("notices", notices, "release notices (sales-ready, overdue)", group="scoring")
    p.add_argument("--deliver", action="store_true", help="show waiting ones on the desktop")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")


__all__ = ["UserError", "register"]
