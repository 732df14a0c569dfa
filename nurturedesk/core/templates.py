"""Email templates: a subject and a Markdown body with Jinja2 tokens.

Rendering runs in Jinja2's SandboxedEnvironment with StrictUndefined. Everything that can be
wrong with a template (syntax, an unknown token, an unknown asset, an attempt to reach outside
the sandbox) is found when it is saved, with the line and column, never when mail goes out:
`check_template` parses the source, walks its syntax tree for names and attributes we do not
provide, then renders it once against a sample lead.

The body is rendered twice: once as Markdown for the HTML part (lead fields are escaped so a
name cannot inject links or markup; raw HTML is off) and once as plain text for the text part.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape as html_escape
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.runtime import Undefined
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markdown_it import MarkdownIt
from sqlalchemy import select

from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, UserError, ValidationError
from nurturedesk.core.models import Asset, EmailTemplate
from nurturedesk.core.validation import clean_text

# What a template may use: lead.<field>, sender.<field>, asset("slug"), unsubscribe_url.
LEAD_FIELDS = (
    "first_name",
    "last_name",
    "name",
    "email",
    "company",
    "title",
    "phone",
    "source",
    "owner",
    "stage",
    "custom",
)
SENDER_FIELDS = ("name", "email", "signature", "postal_address")
GLOBAL_NAMES = {"lead", "sender", "asset", "unsubscribe_url"}
ATTRIBUTES = {"lead": set(LEAD_FIELDS), "sender": set(SENDER_FIELDS)}

SAMPLE_LEAD: dict[str, Any] = {
    "first_name": "Jane",
    "last_name": "Doe",
    "name": "Jane Doe",
    "email": "jane.doe@example.com",
    "company": "Acme Corp",
    "title": "CTO",
    "phone": "",
    "source": "Web form",
    "owner": "",
    "stage": "Nurturing",
    "custom": {},
}


class TemplateProblem(ValidationError):
    """A template that cannot be saved; says where (field, line, column) and what."""

    def __init__(self, field: str, line: int, column: int, message: str) -> None:
        where = "subject" if field == "subject" else f"body, line {line}, column {column}"
        super().__init__(field, f"Template {where}: {message}")
        self.line = line
        self.column = column
        self.problem = message


class SafeMarkdown(str):
    """Markdown we produced ourselves (asset links): not escaped in the HTML pass."""


class _Custom(dict[str, Any]):
    """Custom fields: a field a lead does not have is empty, never an error at send time."""

    def __missing__(self, key: str) -> str:
        return ""


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")


def escape_markdown(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def _default(value: Any, default_value: Any = "", boolean: bool = True) -> Any:
    """`default` that also replaces empty strings: `first_name | default("there")` works."""
    if isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


def _finalize_markdown(value: Any) -> Any:
    if isinstance(value, SafeMarkdown):
        return value
    return escape_markdown("" if value is None else str(value))


def _finalize_text(value: Any) -> Any:
    return "" if value is None else value


def _make_env(finalize: Callable[[Any], Any]) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, finalize=finalize, keep_trailing_newline=True
    )
    env.filters["default"] = _default
    env.filters["d"] = _default
    return env


ENV_MARKDOWN = _make_env(_finalize_markdown)
ENV_TEXT = _make_env(_finalize_text)
MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


@functools.lru_cache(maxsize=256)
def _compiled(kind: str, source: str) -> Any:
    return (ENV_MARKDOWN if kind == "md" else ENV_TEXT).from_string(source)


# --- checking ---------------------------------------------------------------------------


def _column(source: str, line: int, needle: str = "") -> int:
    lines = source.splitlines() or [""]
    text = lines[min(max(line, 1), len(lines)) - 1]
    for candidate in (needle, "{{", "{%"):
        if candidate and candidate in text:
            return text.index(candidate) + 1
    return 1


def _template_line(exc: BaseException) -> int:
    """The template line an error was raised on (Jinja rewrites tracebacks to point there)."""
    line = 1
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _check_tree(field: str, source: str, tree: nodes.Template, asset_slugs: set[str]) -> None:
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in GLOBAL_NAMES | assigned:
            raise TemplateProblem(
                field,
                name.lineno,
                _column(source, name.lineno, name.name),
                f'unknown token {name.name!r} (use lead.…, sender.…, asset("slug"), '
                "unsubscribe_url).",
            )
    for attr in tree.find_all(nodes.Getattr):
        if isinstance(attr.node, nodes.Name) and attr.node.name in ATTRIBUTES:
            allowed = ATTRIBUTES[attr.node.name]
            if attr.node.name not in assigned and attr.attr not in allowed:
                token = f"{attr.node.name}.{attr.attr}"
                raise TemplateProblem(
                    field,
                    attr.lineno,
                    _column(source, attr.lineno, token),
                    f"unknown token {token!r}; known: "
                    + ", ".join(f"{attr.node.name}.{a}" for a in sorted(allowed))
                    + ".",
                )
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "asset":
            arg = call.args[0] if call.args else None
            if not isinstance(arg, nodes.Const) or not isinstance(arg.value, str):
                raise TemplateProblem(
                    field,
                    call.lineno,
                    _column(source, call.lineno, "asset("),
                    'asset() takes the slug of an asset in quotes, e.g. asset("roi-guide").',
                )
            if arg.value not in asset_slugs:
                raise TemplateProblem(
                    field,
                    call.lineno,
                    _column(source, call.lineno, arg.value),
                    f"no asset with slug {arg.value!r} in the content library.",
                )


def check_template(subject: str, body: str, assets: Mapping[str, AssetLink]) -> None:
    """Raise TemplateProblem for anything that would fail (or misbehave) at send time."""
    for field, source in (("subject", subject), ("body", body)):
        try:
            tree = ENV_TEXT.parse(source)
        except TemplateSyntaxError as exc:
            line = exc.lineno or 1
            raise TemplateProblem(
                field, line, _column(source, line), f"syntax error: {exc.message}"
            ) from None
        _check_tree(field, source, tree, set(assets))
        for kind in ("md", "text"):
            try:
                _compiled(kind, source).render(
                    _context(SAMPLE_LEAD, SAMPLE_SENDER, assets, kind, "mailto:x@example.com")
                )
            except SecurityError as exc:
                line = _template_line(exc)
                raise TemplateProblem(
                    field, line, _column(source, line), f"not allowed in a template ({exc})."
                ) from None
            except TemplateError as exc:
                line = getattr(exc, "lineno", None) or _template_line(exc)
                raise TemplateProblem(
                    field, line, _column(source, line), str(exc.message or exc)
                ) from None
            except Exception as exc:  # e.g. 1/0, "a" + 1: still the template's fault
                line = _template_line(exc)
                raise TemplateProblem(
                    field, line, _column(source, line), f"{type(exc).__name__}: {exc}"
                ) from None
    if not clean_text(subject):
        raise TemplateProblem("subject", 1, 1, "a subject is required.")


# --- rendering --------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetLink:
    slug: str
    title: str
    url: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


SAMPLE_SENDER: dict[str, Any] = {
    "name": "Alex Sender",
    "email": "alex@example.com",
    "signature": "Alex",
    "postal_address": "1 Main Street, Springfield",
}


def _context(
    lead: Mapping[str, Any],
    sender: Mapping[str, Any],
    assets: Mapping[str, AssetLink],
    kind: str,
    unsubscribe_url: str,
) -> dict[str, Any]:
    def asset(slug: str) -> str:
        link = assets.get(slug)
        if link is None:
            raise UserError(f"No asset with slug {slug!r} in the content library.")
        if kind == "md":
            return SafeMarkdown(f"[{escape_markdown(link.title)}](<{link.url}>)")
        return f"{link.title}: {link.url}"

    lead_ctx = dict(lead)
    lead_ctx["custom"] = _Custom(lead.get("custom") or {})
    return {
        "lead": lead_ctx,
        "sender": dict(sender),
        "asset": asset,
        "unsubscribe_url": SafeMarkdown(unsubscribe_url) if kind == "md" else unsubscribe_url,
    }


def _footer_text(sender: Mapping[str, Any], unsubscribe_url: str) -> str:
    lines = ["", "--"]
    if sender.get("postal_address"):
        lines.append(str(sender["postal_address"]))
    lines.append(f"You receive this because we were in touch. To stop: {unsubscribe_url}")
    return "\n".join(lines) + "\n"


def _footer_html(sender: Mapping[str, Any], unsubscribe_url: str) -> str:
    parts = []
    if sender.get("postal_address"):
        parts.append(html_escape(str(sender["postal_address"])))
    url = html_escape(unsubscribe_url, quote=True)
    parts.append(f'You receive this because we were in touch. <a href="{url}">Unsubscribe</a>.')
    return '<hr><p style="color:#666;font-size:12px">' + "<br>".join(parts) + "</p>"


def render_email(
    subject: str,
    body: str,
    lead: Mapping[str, Any],
    sender: Mapping[str, Any],
    assets: Mapping[str, AssetLink],
    unsubscribe_url: str,
) -> Rendered:
    """Subject (one clean line), plain-text body and HTML body, footers included."""
    subject_out = _compiled("text", subject).render(
        _context(lead, sender, assets, "text", unsubscribe_url)
    )
    text = _compiled("text", body).render(_context(lead, sender, assets, "text", unsubscribe_url))
    markdown = _compiled("md", body).render(_context(lead, sender, assets, "md", unsubscribe_url))
    html = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        + MARKDOWN.render(markdown)
        + _footer_html(sender, unsubscribe_url)
        + "</body></html>"
    )
    return Rendered(
        subject=clean_text(subject_out, 400),
        text=text.rstrip() + "\n" + _footer_text(sender, unsubscribe_url),
        html=html,
    )


# --- the template library ---------------------------------------------------------------


@dataclass(frozen=True)
class TemplateInfo:
    id: int
    name: str
    subject: str
    body: str
    updated_at: datetime


def _info(t: EmailTemplate) -> TemplateInfo:
    return TemplateInfo(t.id, t.name, t.subject, t.body, t.updated_at)


def asset_links(workspace: Workspace) -> dict[str, AssetLink]:
    with workspace.session() as session:
        return {a.slug: AssetLink(a.slug, a.title, a.url) for a in session.scalars(select(Asset))}


def save_template(
    workspace: Workspace, name: str, subject: str, body: str, template_id: int | None = None
) -> TemplateInfo:
    """Add (template_id None) or replace a template, after checking it."""
    clean_name = clean_text(name, 120)
    if not clean_name:
        raise ValidationError("name", "A template needs a name.")
    check_template(subject, body, asset_links(workspace))
    with workspace.session() as session:
        clash = session.scalar(select(EmailTemplate).where(EmailTemplate.name == clean_name))
        if clash is not None and clash.id != template_id:
            raise ValidationError("name", f"There is already a template named {clean_name!r}.")
        if template_id is None:
            row = EmailTemplate(name=clean_name)
            session.add(row)
        else:
            found = session.get(EmailTemplate, template_id)
            if found is None:
                raise NotFoundError(f"No template #{template_id}.")
            row = found
        row.name = clean_name
        row.subject = subject
        row.body = body
        row.updated_at = workspace.clock.now()
        session.flush()
        return _info(row)


def list_templates(workspace: Workspace) -> list[TemplateInfo]:
    with workspace.session() as session:
        rows = session.scalars(select(EmailTemplate).order_by(EmailTemplate.name))
        return [_info(t) for t in rows]


def find_template(workspace: Workspace, name_or_id: str | int) -> TemplateInfo:
    with workspace.session() as session:
        row = None
        if isinstance(name_or_id, int) or str(name_or_id).isdigit():
            row = session.get(EmailTemplate, int(name_or_id))
        if row is None:
            row = session.scalar(
                select(EmailTemplate).where(EmailTemplate.name == str(name_or_id).strip())
            )
        if row is None:
            raise NotFoundError(f"No template named {name_or_id!r}.")
        return _info(row)
