"""What a new workspace starts with. Each step is idempotent: it runs at every open and only
fills what is missing, so a workspace migrated from an older version gets new defaults too."""

from __future__ import annotations

from nurturedesk.core.db import Workspace
from nurturedesk.core.stages import ensure_default_stages


def seed_workspace(workspace: Workspace) -> None:
    ensure_default_stages(workspace)
    # Nurture (issue 3): default content + tracks, and the stage-enrolment rule watcher.
    from nurturedesk.core.nurture_defaults import ensure_nurture_defaults
    from nurturedesk.core.sequences import watch_leads

    ensure_nurture_defaults(workspace)
    watch_leads(workspace)
    # Personal data (issue 5): a forgotten address typed in again is suppressed again.
    from nurturedesk.core.privacy import watch_returning_addresses

    watch_returning_addresses(workspace)
