"""Export and re-import give the same leads; a 50 MB file imports in one go."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook

from nurturedesk.core import bulk, leads
from nurturedesk.core.db import Workspace, open_workspace
from nurturedesk.core.errors import UserError, ValidationError
from nurturedesk.core.exporter import export_leads
from nurturedesk.core.importer import ImportOptions, import_file
from nurturedesk.core.models import Tag
from nurturedesk.core.segments import parse_condition, save_segment
from nurturedesk.core.stages import find_stage


def lead_set(ws: Workspace) -> set[tuple[object, ...]]:
    return {
        (
            d.email,
            d.first_name,
            d.last_name,
            d.company,
            d.title,
            d.phone,
            d.source,
            d.owner,
            d.timezone,
            d.stage_name,
            d.tags,
            tuple(sorted(d.custom_fields.items())),
        )
        for d in leads.list_leads(ws)
    }


def fill(ws: Workspace) -> None:
    nurturing = find_stage(ws, "Nurturing").id
    leads.add_lead(
        ws,
        leads.LeadData(
            email="Zoe@example.com",
            first_name="Zoë",
            last_name="D'Arcy",
            company='=HYPERLINK("http://evil")',
            phone="+33 1 23 45 67 89",
            source="Fair",
            owner="sam",
            timezone="Europe/Paris",
            custom_fields={"Budget": "1500", "Notes": 'likes, commas; and "quotes"'},
            tags=("vip", "webinar"),
        ),
        nurturing,
    )
    leads.add_lead(ws, leads.LeadData(email="bob@example.org", title="-CTO-", tags=("vip",)))
    leads.add_lead(ws, leads.LeadData(email="plain@example.net"))
    # What the CSV export guards with a leading quote (=, +, -, @ first) in the columns the
    # import reads on their own: the address and the tags.
    leads.add_lead(ws, leads.LeadData(email="+weird@example.com", tags=("=tag", "-t2", "@t3")))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_gives_the_same_leads(
    workspace: Workspace, tmp_path: Path, fmt: str
) -> None:
    fill(workspace)
    out = tmp_path / f"leads.{fmt}"
    result = export_leads(workspace, out)
    assert result.leads == 4
    other = open_workspace(tmp_path / "other.sqlite")
    try:
        imported = import_file(other, out)
        assert (imported.imported, imported.rejected) == (4, 0)
        assert lead_set(other) == lead_set(workspace)
    finally:
        other.close()


def test_csv_export_defuses_formulas_but_keeps_phone_numbers(
    workspace: Workspace, tmp_path: Path
) -> None:
    fill(workspace)
    out = tmp_path / "leads.csv"
    export_leads(workspace, out)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = {r["email"]: r for r in csv.DictReader(fh)}
    assert rows["Zoe@example.com"]["company"].startswith("'=")
    assert rows["Zoe@example.com"]["phone"] == "+33 1 23 45 67 89"
    assert rows["Zoe@example.com"]["custom.Budget"] == "1500"


def test_xlsx_export_keeps_formula_like_text_as_text(workspace: Workspace, tmp_path: Path) -> None:
    fill(workspace)
    out = tmp_path / "leads.xlsx"
    export_leads(workspace, out)
    sheet = load_workbook(out).active
    assert sheet is not None
    companies = [row[3].value for row in sheet.iter_rows(min_row=2)]
    kinds = [row[3].data_type for row in sheet.iter_rows(min_row=2)]
    assert '=HYPERLINK("http://evil")' in companies
    assert "f" not in kinds


def test_export_filters_by_stage_tag_and_segment(workspace: Workspace, tmp_path: Path) -> None:
    fill(workspace)
    save_segment(
        workspace, "VIP owned", [parse_condition("tag = vip"), parse_condition("owner = sam")]
    )
    out = tmp_path / "x.csv"
    assert export_leads(workspace, out, stage="Nurturing").leads == 1
    assert export_leads(workspace, out, flt=leads.LeadFilter(tag="vip")).leads == 2
    assert export_leads(workspace, out, segment="vip owned").leads == 1


def test_a_tag_name_never_holds_what_separates_tags_in_a_file(
    workspace: Workspace, tmp_path: Path
) -> None:
    """A tag "fair, 2026" would be exported as it is and come back as two tags: so "," ";"
    and "|" separate tags wherever tags are given, and one bulk tag is one name."""
    added = leads.add_lead(workspace, leads.LeadData(email="a@example.com", tags=("fair, 2026",)))
    assert leads.get_lead(workspace, added.id).tags == ("2026", "fair")
    path = tmp_path / "list.csv"
    path.write_text("Email\nb@example.com\n", encoding="utf-8")
    import_file(workspace, path, ImportOptions(tags=("spring; vip|Fair",)))
    assert leads.find_lead(workspace, "b@example.com").tags == ("fair", "spring", "vip")
    with pytest.raises(ValidationError, match="one tag at a time"):
        bulk.tag_leads(workspace, [added.id], "x,y")

    # A tag made before separators were refused stays whole: an edit of its lead keeps it,
    # and it can still be given in bulk.
    with workspace.session() as session:
        session.add(Tag(name="Q1, 2026"))
    bulk.tag_leads(workspace, [added.id], "Q1, 2026")
    detail = leads.get_lead(workspace, added.id)
    assert detail.tags == ("2026", "fair", "Q1, 2026")
    leads.update_lead(workspace, added.id, replace(detail, phone="123"))
    assert leads.get_lead(workspace, added.id).tags == ("2026", "fair", "Q1, 2026")


def test_a_50_mb_file_imports_completely(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    filler = "x" * 200
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Email", "First Name", "Last Name", "Company", "Notes"])
        while fh.tell() < 50 * 1024 * 1024:
            writer.writerows(
                [f"p{count + i}@example.com", "First", "Last", "Company", filler]
                for i in range(1000)
            )
            count += 1000
    result = import_file(workspace, path)
    assert (result.rows, result.imported) == (count, count)
    assert leads.count_by_stage(workspace)[find_stage(workspace, "New").id] == count


def test_export_to_a_folder_that_cannot_be_written_is_a_user_error(
    workspace: Workspace, unwritable_dir: Path
) -> None:
    fill(workspace)
    out = unwritable_dir / "leads.csv"
    with pytest.raises(UserError, match=rf"^Could not write {out}: .+\.$"):
        export_leads(workspace, out)
    assert not out.exists()
