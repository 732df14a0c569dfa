"""Stages: defaults, add/rename/recolour/reorder, and deleting a stage that holds leads."""

from __future__ import annotations

import pytest

from nurturedesk.core import leads, stages
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError, ValidationError
from nurturedesk.core.leads import LeadData
from nurturedesk.core.models import StageKind


def names(ws: Workspace) -> list[str]:
    return [s.name for s in stages.list_stages(ws)]


def test_default_kinds(workspace: Workspace) -> None:
    kinds = {s.name: s.kind for s in stages.list_stages(workspace)}
    assert kinds["Won"] is StageKind.WON
    assert kinds["Newsletter"] is StageKind.PARKED and kinds["Recycled"] is StageKind.PARKED
    assert kinds["Nurturing"] is StageKind.OPEN


def test_add_rename_recolour_reorder(workspace: Workspace) -> None:
    lost = stages.add_stage(workspace, "Lost", "#B71C1C", StageKind.LOST, position=6)
    assert names(workspace)[6] == "Lost"
    stages.update_stage(workspace, lost.id, name="Closed lost", colour="#ff0000")
    assert stages.find_stage(workspace, "closed LOST").colour == "#ff0000"
    with pytest.raises(ValidationError, match="already a stage"):
        stages.update_stage(workspace, lost.id, name="won")
    with pytest.raises(ValidationError, match="Colour"):
        stages.update_stage(workspace, lost.id, colour="red")
    ids = [s.id for s in stages.list_stages(workspace)]
    stages.reorder_stages(workspace, list(reversed(ids)))
    assert names(workspace)[0] == "Recycled"


def test_deleting_a_stage_with_leads_needs_a_destination(workspace: Workspace) -> None:
    qualifying = stages.find_stage(workspace, "Qualifying")
    lead = leads.add_lead(workspace, LeadData(email="a@example.com"), qualifying.id)
    with pytest.raises(UserError, match="holds 1 leads"):
        stages.delete_stage(workspace, qualifying.id)
    assert "Qualifying" in names(workspace)
    nurturing = stages.find_stage(workspace, "Nurturing")
    assert stages.delete_stage(workspace, qualifying.id, nurturing.id) == 1
    assert "Qualifying" not in names(workspace)
    assert leads.get_lead(workspace, lead.id).stage_name == "Nurturing"
    assert [s.position for s in stages.list_stages(workspace)] == list(range(7))


def test_unknown_stage_name_lists_the_stages(workspace: Workspace) -> None:
    with pytest.raises(UserError, match="Stages: New, Qualifying"):
        stages.find_stage(workspace, "Limbo")
