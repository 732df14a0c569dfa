"""Templates: checked when saved (line and column), sandboxed, Markdown to HTML + text."""

from __future__ import annotations

import pytest

from nurturedesk.core.db import Workspace
from nurturedesk.core.leads import LeadData, add_lead
from nurturedesk.core.preview import preview_for_lead
from nurturedesk.core.templates import (
    AssetLink,
    TemplateProblem,
    check_template,
    list_templates,
    render_email,
    save_template,
)

ASSETS = {"guide": AssetLink("guide", "The [best] guide", "https://example.com/guide")}
SENDER = {
    "name": "Alex",
    "email": "a@example.com",
    "signature": "Alex",
    "postal_address": "1 Main St",
}


def problem(subject: str, body: str) -> TemplateProblem:
    with pytest.raises(TemplateProblem) as info:
        check_template(subject, body, ASSETS)
    return info.value


def test_unknown_token_is_reported_with_line_and_column() -> None:
    p = problem("Hi", "Hello\n\nDear {{ lead.frist_name }},\n")
    assert (p.line, p.column) == (3, 9)
    assert "lead.frist_name" in str(p) and "line 3, column 9" in str(p)
    p = problem("Hi", "one\n  {{ customer }}")
    assert (p.line, p.column) == (2, 6) and "'customer'" in str(p)


def test_syntax_error_is_reported_with_its_line() -> None:
    p = problem("Hi", "fine\nfine\n{% if lead.company %}unclosed")
    assert p.line == 3 and "syntax error" in str(p)
    p = problem("Hello {{ lead.first_name ", "body")
    assert p.field == "subject"


def test_unknown_asset_and_unknown_filter_are_refused() -> None:
    assert "no asset with slug 'nope'" in str(problem("Hi", 'Read {{ asset("nope") }}'))
    assert "no filter named" in str(problem("Hi", "{{ lead.company | shout }}")).lower()


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lead.__class__ }}",
        "{{ asset.__globals__ }}",
        "{% set x = sender %}{{ x.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lead.custom.__class__.__base__.__subclasses__() }}",
    ],
)
def test_a_template_trying_to_escape_the_sandbox_is_refused(
    workspace: Workspace, body: str
) -> None:
    with pytest.raises(TemplateProblem):
        save_template(workspace, "Escape", "Hi", body)
    assert "Escape" not in {t.name for t in list_templates(workspace)}


def test_render_personalises_escapes_and_produces_both_parts() -> None:
    lead = {
        "first_name": "",
        "last_name": "",
        "name": "",
        "email": "x@example.com",
        "company": "<script>alert(1)</script> [x](http://evil.example)",
        "title": "",
        "phone": "",
        "source": "",
        "owner": "",
        "stage": "",
        "custom": {"industry": "Retail"},
    }
    out = render_email(
        "Hi {{ lead.first_name | default('there') }}",
        "Hi {{ lead.first_name | default('there') }} at {{ lead.company }} "
        "({{ lead.custom.industry }}{{ lead.custom.missing }})\n\n"
        '*Read* {{ asset("guide") }}',
        lead,
        SENDER,
        ASSETS,
        "mailto:a@example.com?subject=unsubscribe%20tok",
    )
    assert out.subject == "Hi there"
    assert "Hi there at <script>alert(1)</script>" in out.text  # plain text: as typed
    assert "(Retail)" in out.text
    assert "The [best] guide: https://example.com/guide" in out.text
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert 'href="http://evil.example"' not in out.html  # a lead field cannot make a link
    assert '<a href="https://example.com/guide">The [best] guide</a>' in out.html
    assert "<em>Read</em>" in out.html
    assert "1 Main St" in out.text and "unsubscribe%20tok" in out.text
    assert 'href="mailto:a@example.com?subject=unsubscribe%20tok"' in out.html


def test_preview_for_a_real_lead(workspace: Workspace) -> None:
    lead = add_lead(workspace, LeadData(email="p@example.com", first_name="Priya", company="Hooli"))
    out = preview_for_lead(
        workspace,
        "For {{ lead.company }}",
        'Hi {{ lead.first_name }}, {{ asset("monthly-webinar") }}',
        lead.id,
    )
    assert out.subject == "For Hooli"
    assert out.text.startswith("Hi Priya, Monthly webinar")


def test_new_workspace_has_editable_default_templates(workspace: Workspace) -> None:
    names = {t.name for t in list_templates(workspace)}
    assert "Newsletter" in names and "Nurture 1: guide" in names
