"""Live preview of a template for a chosen lead (or a sample one), without queueing."""

from __future__ import annotations

from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError
from nurturedesk.core.mailconfig import load_config
from nurturedesk.core.models import Lead
from nurturedesk.core.sequences import lead_context, sender_context, unsubscribe_mailto
from nurturedesk.core.templates import (
    SAMPLE_LEAD,
    Rendered,
    asset_links,
    check_template,
    render_email,
)


def preview_for_lead(
    workspace: Workspace, subject: str, body: str, lead_id: int | None = None
) -> Rendered:
    """Check, then render. Raises TemplateProblem (with line/column) like saving would."""
    assets = asset_links(workspace)
    check_template(subject, body, assets)
    cfg = load_config(workspace)
    context = dict(SAMPLE_LEAD)
    if lead_id is not None:
        with workspace.session() as session:
            lead = session.get(Lead, lead_id)
            if lead is None or lead.deleted_at is not None:
                raise NotFoundError(f"No lead #{lead_id}.")
            context = lead_context(lead)
    return render_email(
        subject,
        body,
        context,
        sender_context(cfg),
        assets,
        unsubscribe_mailto(cfg, "preview-token"),
    )
