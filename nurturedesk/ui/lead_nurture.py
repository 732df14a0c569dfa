"""What the lead editor shows about nurturing: the next email and when it is due, the
lead's enrolments, the last email sent, and a bounce or suppression if there is one."""

from __future__ import annotations

from PySide6.QtWidgets import QBoxLayout, QDialog, QLabel

from nurturedesk.core.db import Workspace
from nurturedesk.core.outbox import bounces_for_lead, list_outbox
from nurturedesk.core.sequences import list_enrollments, next_email
from nurturedesk.core.suppression import is_suppressed


def nurture_summary(workspace: Workspace, lead_id: int, email: str) -> str:
    lines = []
    nxt = next_email(workspace, lead_id)
    if nxt is not None:
        lines.append(
            f"<b>Next email:</b> {nxt.template} ({nxt.sequence}), due {nxt.due:%a %d %b %H:%M} UTC"
        )
    else:
        lines.append("<b>Next email:</b> none scheduled")
    enrolments = [
        f"{e.sequence_name}: {e.state}" + (f" ({e.stopped_reason})" if e.stopped_reason else "")
        for e in list_enrollments(workspace, lead_id=lead_id)
    ]
    if enrolments:
        lines.append("<b>Sequences:</b> " + "; ".join(enrolments))
    sent = [m for m in list_outbox(workspace, "sent", limit=1, lead_id=lead_id)]
    if sent and sent[0].sent_at:
        lines.append(f"<b>Last sent:</b> {sent[0].subject} ({sent[0].sent_at:%d %b %Y})")
    bounces = bounces_for_lead(workspace, lead_id)
    if bounces:
        at, code, _message = bounces[-1]
        lines.append(f"<b style='color:#c62828'>Bounced</b> {at:%d %b %Y} ({code})")
    if is_suppressed(workspace, email):
        lines.append("<b style='color:#c62828'>Never mailed:</b> on the suppression list")
    return "<br>".join(lines)


def attach_nurture_summary(
    dialog: QDialog, workspace: Workspace, lead_id: int, email: str
) -> QLabel:
    """Add the summary above the dialog's buttons (the lead editor's last layout item)."""
    label = QLabel(nurture_summary(workspace, lead_id, email))
    label.setObjectName("nurtureSummary")
    label.setWordWrap(True)
    label.setStyleSheet("background: #f5f5f5; padding: 6px; border-radius: 4px;")
    layout = dialog.layout()
    if isinstance(layout, QBoxLayout):
        layout.insertWidget(max(0, layout.count() - 1), label)
    return label
