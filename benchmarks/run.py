"""Run every benchmark and print one table: `python -m benchmarks.run [NAME ...]`.

Each `benchmarks/bench_*.py` has `run() -> list[Result]`; each runs in its own process so
memory figures are its own. Exit status 1 if any target is missed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_one(module: str) -> list[dict[str, object]]:
    code = (
        "import json, dataclasses, importlib;"
        f"m = importlib.import_module('benchmarks.{module}');"
        "print('@@' + json.dumps([dataclasses.asdict(r) for r in m.run()]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=HERE.parent, capture_output=True, text=True
    )
    for line in proc.stdout.splitlines():
        if line.startswith("@@"):
            return list(json.loads(line[2:]))
    sys.stderr.write(proc.stdout + proc.stderr)
    return [
        {
            "issue": module,
            "name": "benchmark crashed",
            "value": float("nan"),
            "unit": "",
            "target": "runs",
            "ok": False,
        }
    ]


def main(argv: list[str]) -> int:
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if argv:
        modules = [m for m in modules if any(a in m for a in argv)]
    rows = []
    for module in modules:
        print(f"running {module} ...", file=sys.stderr, flush=True)
        rows.extend(run_one(module))
    widths = (10, 58, 12, 16, 4)
    header = ("area", "measure", "value", "target", "ok")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        # Ratios to two places: "3.0 x" would hide whether 2.96 or 3.04 was measured.
        places = 2 if r["unit"] == "x" else 1
        value = f"{r['value']:.{places}f} {r['unit']}"
        cells = (r["issue"], r["name"], value, r["target"], "yes" if r["ok"] else "NO")
        print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
