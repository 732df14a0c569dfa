"""Cold start to the board on screen (from source and frozen) and the frozen folder's size.

Each launch is a new process on a demo workspace (300 leads) on a private Xvfb display (or
offscreen without Xvfb); the app prints a line once its window is exposed and painted
(`NURTUREDESK_STARTUP_PROBE`), and the time is measured from just before the process is
spawned to that line. The OS file cache is warm after the first launch (dropping it needs
root and would disturb other work on this machine): the first launch is reported apart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result, median

ROOT = Path(__file__).resolve().parent.parent
FROZEN = ROOT / "dist" / "NurtureDesk" / "NurtureDesk"
RUNS = 5
TARGET_S = 1.5
SIZE_TARGET_MB = 200


def _launch(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds to the board on screen, CPU seconds the whole launch used)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for line in proc.stdout.splitlines():
        if line.startswith("@@board-shown "):
            return float(line.split()[1]) - start, cpu
    raise RuntimeError(f"the app did not show the board: {proc.stderr[-2000:]}")


def _folder_mb(path: Path) -> float:
    # Symlinks (PyInstaller links Qt libraries into _internal) are not counted twice.
    return (
        sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    )


def run() -> list[Result]:
    sys.path.insert(0, str(ROOT))
    from tests.xvfb import start_xvfb

    results: list[Result] = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {
            **os.environ,
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "NURTUREDESK_STARTUP_PROBE": "1",
        }
        display = start_xvfb()
        if display is not None:
            env.update(DISPLAY=display.name, QT_QPA_PLATFORM="xcb")
        else:
            env["QT_QPA_PLATFORM"] = "offscreen"
        where = ("Xvfb" if display is not None else "offscreen") + f", load {load:.1f}"
        workspace = home / "demo.sqlite"
        subprocess.run(
            [sys.executable, "-m", "nurturedesk", "demo", "-w", str(workspace)],
            env=env,
            check=True,
            capture_output=True,
        )
        try:
            variants = [("source", [sys.executable, "-m", "nurturedesk"])]
            if FROZEN.exists():
                variants.append(("frozen", [str(FROZEN)]))
            for label, cmd in variants:
                runs = [_launch([*cmd, "-w", str(workspace)], env) for _ in range(RUNS)]
                times = [wall for wall, _cpu in runs]
                first, rest = times[0], median(times[1:])
                cpu = median([c for _wall, c in runs[1:]])
                results.append(
                    Result(
                        "startup",
                        f"start to board on screen, {label}, 1st launch ({where})",
                        first,
                        "s",
                        f"<= {TARGET_S} s",
                        first <= TARGET_S,
                    )
                )
                results.append(
                    Result(
                        "startup",
                        f"start to board on screen, {label}, median of {RUNS - 1}",
                        rest,
                        "s",
                        f"<= {TARGET_S} s",
                        rest <= TARGET_S,
                    )
                )
                # CPU used by a whole launch (to the board, then quit): independent of what
                # else the machine runs, so a slower wall time can be told apart from load.
                results.append(
                    Result(
                        "startup",
                        f"CPU time of one launch, {label} (median)",
                        cpu,
                        "s",
                        "context",
                        True,
                    )
                )
        finally:
            if display is not None:
                display.stop()
    if FROZEN.exists():
        size = _folder_mb(FROZEN.parent)
        results.append(
            Result(
                "startup",
                "frozen folder dist/NurtureDesk",
                size,
                "MB",
                f"<= {SIZE_TARGET_MB} MB",
                size <= SIZE_TARGET_MB,
            )
        )
    else:
        results.append(
            Result(
                "startup", "frozen app not built (scripts/build)", float("nan"), "", "built", False
            )
        )
    return results
