"""Composition root: opens the workspace, wires services, scheduler and UI. (GUI lands next.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nurturedesk.core.db import Workspace


def run_app(workspace_path: Path | None, demo: bool = False) -> int:
    raise NotImplementedError("the GUI is being built")


def selftest_report(workspace: Workspace) -> dict[str, Any]:
    return {"workspace": workspace.url}
