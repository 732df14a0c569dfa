"""Opening a workspace already at the newest schema skips Alembic (start-up time), and the
quick revision scan agrees with Alembic's own view of the migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from nurturedesk.core import db


def test_scanned_revisions_match_alembic() -> None:
    script = ScriptDirectory.from_config(db.alembic_config())
    assert db.head_revision() == script.get_current_head()
    assert db.known_revisions() == {s.revision for s in script.walk_revisions()}


def test_opening_a_workspace_at_head_does_not_run_alembic(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    db.open_workspace(path).close()  # created: migrations ran
    code = (
        "import sys; from nurturedesk.core.db import open_workspace;"
        f"ws = open_workspace({str(path)!r}); ws.close();"
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip() == "False"
