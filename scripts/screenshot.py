"""Take a screenshot of the main window on a workspace: `python scripts/screenshot.py WS OUT.png`.

Used for the README's picture and to look at the UI after a change (run under Xvfb).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer

from nurturedesk.app import Application, make_qapplication


def main() -> int:
    workspace, out = Path(sys.argv[1]), Path(sys.argv[2])
    qapp = make_qapplication()
    app = Application()
    if not app.open(workspace, demo=True):
        return 1
    app.window.resize(1500, 860)

    def shoot() -> None:
        app.window.grab().save(str(out))
        app.window.quit()

    QTimer.singleShot(1200, shoot)
    qapp.exec()
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
