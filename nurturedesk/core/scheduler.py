"""APScheduler wiring: periodic ticks that call core services.

The scheduler holds no state of its own: what is due lives in our tables (enrolment
`next_send_at`, outbox rows), so a tick that runs late, or after the laptop slept, finds the
same work. Each tick runs with `coalesce=True` (missed runs collapse into one) and a generous
`misfire_grace_time` (the default of 1 s silently drops a run after a sleep).
Each capability adds its tick to `TICKS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler

from nurturedesk.core.db import Workspace

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Tick:
    name: str
    every_seconds: int
    run: Callable[[Workspace], object]


# Periodic work, in no particular order; each issue appends its own.
TICKS: list[Tick] = []


def _nurture_dispatch(workspace: Workspace) -> None:
    from nurturedesk.core.dispatch import dispatch_tick  # imported late: no cycle at import

    dispatch_tick(workspace)


TICKS.append(Tick("nurture-dispatch", 30, _nurture_dispatch))


class Scheduler:
    """Runs every tick on a background thread against one workspace."""

    def __init__(self, workspace: Workspace, ticks: list[Tick] | None = None) -> None:
        self.workspace = workspace
        self.ticks = list(TICKS if ticks is None else ticks)
        self._scheduler = BackgroundScheduler(
            job_defaults={
                "coalesce": True,
                "max_instances": 1,  # a slow tick never overlaps itself
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
            timezone="UTC",
        )
        for tick in self.ticks:
            self._scheduler.add_job(
                self._run, "interval", seconds=tick.every_seconds, args=[tick], id=tick.name
            )

    def _run(self, tick: Tick) -> None:
        try:
            tick.run(self.workspace)
        except Exception:
            # A tick that fails (a bug, or the disk) is logged and tried again next interval.
            log.exception("scheduled %s failed", tick.name)

    def run_now(self, name: str) -> None:
        for tick in self.ticks:
            if tick.name == name:
                self._run(tick)
                return
        raise KeyError(name)

    def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def pause(self) -> None:
        self._scheduler.pause()

    def resume(self) -> None:
        self._scheduler.resume()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)


# --- Scoring and release (issue 4): decay, follow-up deadlines, recycling, notices ---------


def _scoring_tick(name: str) -> Callable[[Workspace], object]:
    def run(workspace: Workspace) -> object:
        from nurturedesk.core import release, scoring  # services import this module's callers

        return {
            "decay": scoring.decay_tick,
            "follow_up": release.follow_up_tick,
            "recycle": release.recycle_tick,
            "notices": release.deliver_tick,
        }[name](workspace)

    return run


TICKS += [
    Tick("scoring-decay", 3600, _scoring_tick("decay")),  # re-scores once per UTC day
    Tick("release-follow-up", 300, _scoring_tick("follow_up")),
    Tick("release-recycle", 3600, _scoring_tick("recycle")),
    Tick("release-notices", 5, _scoring_tick("notices")),  # cheap: one indexed query
]
# --- Backups (issue 6): look every 10 minutes; a copy is made when the last is a day old.
from nurturedesk.core.backups import daily_backup_tick  # noqa: E402

TICKS.append(Tick("daily-backup", 600, daily_backup_tick))
