"""Scoring: re-score 100k leads with 1M interactions; log one interaction and get the card."""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from benchmarks.common import Result, median, timed_ms
from nurturedesk.core import interactions, leads, scoring
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace, open_workspace
from nurturedesk.core.scoring_rules import INTERACTION_TYPES
from nurturedesk.core.timestamps import to_micros

LEADS = 100_000
INTERACTIONS = 1_000_000


def populate(ws: Workspace, n_leads: int, n_interactions: int, seed: int = 7) -> None:
    """Bulk rows straight into the tables (the benchmark is the re-score, not the insert)."""
    rng = random.Random(seed)
    now = ws.clock.now()
    stored_now = to_micros(now)  # raw SQL: the times as the workspace stores them
    stage_id = 1
    with ws.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO leads (id, email, email_key, first_name, last_name, company, title,"
                " phone, source, owner, timezone, custom_fields, search_text, stage_id, position,"
                " stage_entered_at, score, created_at, updated_at) VALUES (:id, :e, :e, 'F', 'L',"
                " 'Co', '', '', '', '', '', '{}', :e, :s, :id, :now, 0, :now, :now)"
            ),
            [
                {"id": i, "e": f"lead{i}@example.com", "s": stage_id + i % 3, "now": stored_now}
                for i in range(1, n_leads + 1)
            ],
        )
        types = list(INTERACTION_TYPES)
        rows = []
        for _ in range(n_interactions):
            when = now - timedelta(days=rng.randint(0, 365), seconds=rng.randint(0, 86_399))
            rows.append(
                {
                    "l": rng.randint(1, n_leads),
                    "t": rng.choice(types),
                    "at": to_micros(when),
                    "d": when.toordinal(),
                    "now": stored_now,
                }
            )
        rows.sort(key=lambda r: r["l"])
        conn.execute(
            text(
                "INSERT INTO interactions (lead_id, type, occurred_at, day, note, source,"
                " created_at) VALUES (:l, :t, :at, :d, '', 'bench', :now)"
            ),
            rows,
        )
        conn.exec_driver_sql("ANALYZE")


def run() -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as folder:
        clock = FakeClock(datetime(2026, 3, 2, 9, 0))
        ws = open_workspace(Path(folder) / "bench.sqlite", clock=clock)
        try:
            populate(ws, LEADS, INTERACTIONS)
            scoring.rescore_all(ws)  # warm: first scores, page cache
            samples = []
            cpu = []
            for days in (1, 2, 3):
                clock.set(datetime(2026, 3, 2, 9, 0) + timedelta(days=days))  # decay moves scores
                start, start_cpu = time.perf_counter(), time.process_time()
                scoring.rescore_all(ws)
                samples.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
            value = median(samples)
            results.append(
                Result(
                    "scoring",
                    f"re-score {LEADS:,} leads / {INTERACTIONS:,} interactions",
                    value / 1000,
                    "s",
                    "<= 2 s",
                    value <= 2000,
                )
            )
            # CPU time of this process: what the re-score costs when the cores are not shared.
            results.append(
                Result("scoring", "  the same, CPU time of this process", median(cpu) / 1000,
                       "s", "-", True)
            )  # fmt: skip
            rules = scoring.get_rules(ws)
            samples = []
            changed = 0
            for half_life in (14.0, 30.0, 14.0):
                start = time.perf_counter()
                change = scoring.set_rules(ws, replace(rules, half_life_days=half_life))
                samples.append(time.perf_counter() - start)
                changed = change.changed
            took = median(samples)
            results.append(
                Result(
                    "scoring",
                    f"change a rule: re-score all, undoable ({changed:,} changed)",
                    took,
                    "s",
                    "<= 2 s",
                    took <= 2.0,
                )
            )
            ids = random.Random(3).sample(range(1, LEADS + 1), 30)
            it = iter(ids)

            def log_and_fetch_card() -> None:
                lead_id = next(it)
                interactions.record(ws, lead_id, "webinar_attended")
                leads.cards_by_id(ws, [lead_id])

            samples = timed_ms(log_and_fetch_card, repeat=30)
            value = median(samples)
            results.append(
                Result(
                    "scoring",
                    "log one interaction, fresh card (core, median of 30)",
                    value,
                    "ms",
                    "<= 20 ms",
                    value <= 20,
                )
            )
            results.append(card_update(ws))
        finally:
            ws.close()
    return results


def card_update(ws: Workspace) -> Result:
    """Log one interaction in the GUI process and time until the board's card shows the new
    score (the event reaches the board synchronously on this thread: no polling)."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from nurturedesk.app import make_qapplication
    from nurturedesk.ui.board.model import CardRole
    from nurturedesk.ui.bridge import EventBridge
    from nurturedesk.ui.main_window import MainWindow

    qapp = make_qapplication()
    bridge = EventBridge(ws.events)
    window = MainWindow(ws, bridge)
    window.show()
    qapp.processEvents()
    model = window.board.columns[1].model
    samples = []
    for row in range(20):
        card = model.card(row)
        start = time.perf_counter()
        interactions.record(ws, card.id, "site_visit", note="bench")
        qapp.processEvents()
        score = model.index(model.row_of(card.id) or 0).data(CardRole.Score)
        samples.append((time.perf_counter() - start) * 1000)
        assert score == leads.get_lead(ws, card.id).score, "card not updated"
    window.close()
    bridge.detach()
    value = median(samples)
    return Result(
        "scoring",
        "log one interaction -> board card updated (GUI, 100k leads)",
        value,
        "ms",
        "<= 20 ms",
        value <= 20,
    )


if __name__ == "__main__":
    for r in run():
        print(r)
