"""The content library: whitepapers, webinars, videos, briefings emails point to."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, ValidationError
from nurturedesk.core.models import Asset
from nurturedesk.core.validation import clean_text

KINDS = ("whitepaper", "webinar", "video", "case study", "briefing", "article")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


@dataclass(frozen=True)
class AssetInfo:
    id: int
    slug: str
    title: str
    kind: str
    url: str
    topic: str = ""
    target_tags: tuple[str, ...] = ()
    notes: str = ""


def _info(a: Asset) -> AssetInfo:
    tags = tuple(t for t in (a.target_tags or "").split(",") if t)
    return AssetInfo(a.id, a.slug, a.title, a.kind, a.url, a.topic, tags, a.notes)


def slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:80] or "asset"


def save_asset(
    workspace: Workspace,
    title: str,
    url: str,
    kind: str = "article",
    *,
    slug: str = "",
    topic: str = "",
    target_tags: tuple[str, ...] = (),
    notes: str = "",
    asset_id: int | None = None,
) -> AssetInfo:
    title = clean_text(title, 200)
    if not title:
        raise ValidationError("title", "An asset needs a title.")
    url = clean_text(url, 1000)
    if not re.match(r"^https?://\S+$", url):
        raise ValidationError("url", f"The link must start with http:// or https://, not {url!r}.")
    if kind not in KINDS:
        raise ValidationError("kind", f"Kind must be one of: {', '.join(KINDS)}.")
    slug = clean_text(slug, 80).lower() or slugify(title)
    if not _SLUG.match(slug):
        raise ValidationError("slug", "A slug is lower-case letters, digits and dashes.")
    with workspace.session() as session:
        clash = session.scalar(select(Asset).where(Asset.slug == slug))
        if clash is not None and clash.id != asset_id:
            raise ValidationError("slug", f"Another asset already uses the slug {slug!r}.")
        if asset_id is None:
            row = Asset(slug=slug)
            session.add(row)
        else:
            found = session.get(Asset, asset_id)
            if found is None:
                raise NotFoundError(f"No asset #{asset_id}.")
            row = found
        row.slug, row.title, row.kind, row.url = slug, title, kind, url
        row.topic = clean_text(topic, 120)
        row.target_tags = ",".join(clean_text(t, 80) for t in target_tags if clean_text(t))
        row.notes = notes or ""
        session.flush()
        return _info(row)


def list_assets(workspace: Workspace) -> list[AssetInfo]:
    with workspace.session() as session:
        return [_info(a) for a in session.scalars(select(Asset).order_by(Asset.title))]


def delete_asset(workspace: Workspace, asset_id: int) -> None:
    with workspace.session() as session:
        row = session.get(Asset, asset_id)
        if row is not None:
            session.delete(row)
