"""The digest for people: the JSON file, Markdown, the page, the email's parts, the RSS feed."""

from __future__ import annotations

import html
import json
import textwrap
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape as xml_escape

from dagster_project.lib.digest import Citation, Digest
from dagster_project.lib.ranking import Decision

MAX_CITATIONS = 3  # citations an insight shows in the email, the page and the feed; "+N more"
TEXT_WIDTH = 72  # the plain-text email's lines


def _clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _show(citation: Citation) -> str:
    return citation.podcast_title or citation.podcast


def to_json(digest: Digest) -> str:
    """The digest's JSON file: the contract's shape."""
    return json.dumps(digest.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def _title(digest: Digest) -> str:
    return f"Top insights for {digest.date.isoformat()}"


def _note(digest: Digest) -> str:
    return digest.note or "No insights today."


def to_markdown(digest: Digest) -> str:
    lines = [f"# {_title(digest)}", ""]
    if not digest.insights:
        lines.append(_note(digest))
    for ins in digest.insights:
        lines.append(f"{ins.rank}. **{ins.headline}**")
        lines.append(f"   {ins.summary}")
        for c in ins.citations:
            who = f" ({c.speaker})" if c.speaker else ""
            lines.append(
                f"   - [{_show(c)}: {c.episode_title} at {_clock(c.start_s)}]"
                f'({c.url}){who}: "{c.quote}"'
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def page_url(site_url: str, day: str) -> str:
    """The day's page under the site (a folder URL: https://... or file:///...)."""
    return f"{site_url.rstrip('/')}/{day}.html"


def shown_citations(citations: list[Citation]) -> tuple[list[Citation], list[Citation]]:
    """The MAX_CITATIONS an insight shows, and the rest ("+N more"), each in the given order.

    One citation of each show first, so three citations of a three-show theme cite three shows.
    """
    picked: list[int] = []
    shows: set[str] = set()
    for i, c in enumerate(citations):
        if len(picked) < MAX_CITATIONS and c.podcast not in shows:
            picked.append(i)
            shows.add(c.podcast)
    for i in range(len(citations)):
        if len(picked) < MAX_CITATIONS and i not in picked:
            picked.append(i)
    chosen = set(picked)
    return (
        [c for i, c in enumerate(citations) if i in chosen],
        [c for i, c in enumerate(citations) if i not in chosen],
    )


def _more(n: int) -> str:
    return f"+{n} more"


def to_text(digest: Digest, page_url: str | None = None, unsubscribe: str | None = None) -> str:
    """The email's plain-text part: readable as it stands, wrapped, every link spelled out."""

    def wrap(text: str, first: str, rest: str) -> list[str]:
        return textwrap.wrap(
            text,
            TEXT_WIDTH,
            initial_indent=first,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )

    title = _title(digest)
    lines = [title, "=" * len(title), ""]
    if not digest.insights:
        lines += [*wrap(_note(digest), "", ""), ""]
    for ins in digest.insights:
        lead = f"{ins.rank}. "
        pad = " " * len(lead)
        lines += wrap(ins.headline, lead, pad)
        lines += wrap(ins.summary, pad, pad)
        lines.append("")
        shown, rest = shown_citations(ins.citations)
        for c in shown:
            who = f" ({c.speaker})" if c.speaker else ""
            where = f'{_show(c)}, "{c.episode_title}" at {_clock(c.start_s)}{who}:'
            lines += wrap(where, pad + "- ", pad + "  ")
            lines += wrap(f'"{c.quote}"', pad + "  ", pad + "   ")
            if c.url:
                lines.append(f"{pad}  {c.url}")
        if rest:
            more = _more(len(rest))
            lines.append(f"{pad}{more}: {page_url}#insight-{ins.rank}" if page_url else pad + more)
        lines.append("")
    if page_url:
        lines.append(f"On the web: {page_url}")
    if unsubscribe:
        lines.append(f"Unsubscribe: {unsubscribe}")
    return "\n".join(lines).rstrip() + "\n"


# Inline styles: mail clients drop <style> blocks and stylesheets, so every element carries its own.
_S = {
    "body": "margin:0;padding:0;background-color:#f5f5f2;",
    "wrap": (
        "max-width:640px;margin:0 auto;padding:16px;background-color:#ffffff;color:#1b1b1b;"
        "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif;"
        "font-size:16px;line-height:1.5;"
    ),
    "h1": "font-size:22px;line-height:1.3;margin:0 0 16px 0;",
    "ol": "margin:0;padding:0 0 0 22px;",
    "insight": "margin:0 0 24px 0;",
    "headline": "margin:0 0 4px 0;font-size:18px;line-height:1.35;font-weight:bold;",
    "summary": "margin:0 0 8px 0;color:#555555;font-size:15px;",
    "ul": "margin:0;padding:0 0 0 18px;",
    "cite": "margin:0 0 8px 0;font-size:15px;overflow-wrap:anywhere;",
    "a": "color:#1a5fb4;text-decoration:underline;",
    "more": "margin:0;font-size:15px;",
    "summary_more": "cursor:pointer;color:#1a5fb4;font-size:15px;margin:0 0 8px 0;",
    "note": "margin:0 0 16px 0;",
    "foot": "margin:24px 0 0 0;font-size:13px;color:#777777;",
}


def _citation_html(c: Citation) -> str:
    e = html.escape
    who = f" ({e(c.speaker)})" if c.speaker else ""
    label = f"{e(_show(c))}: {e(c.episode_title)} at {_clock(c.start_s)}"
    link = f'<a href="{e(c.url)}" style="{_S["a"]}">{label}</a>' if c.url else label
    return f'<li style="{_S["cite"]}">{link}{who}: &ldquo;{e(c.quote)}&rdquo;</li>'


def _insights_html(digest: Digest, page_url: str | None, fold: bool) -> str:
    """The digest's body as an HTML fragment (no document around it), styles inline.

    Past MAX_CITATIONS an insight's citations are folded: on the page itself (`fold`) into a
    <details> "+N more"; elsewhere (email, feed) a "+N more" link to the insight on the page.
    """
    e = html.escape
    if not digest.insights:
        return f'<p style="{_S["note"]}">{e(_note(digest))}</p>'
    parts = [f'<ol style="{_S["ol"]}">']
    for ins in digest.insights:
        anchor = f"insight-{ins.rank}"
        parts.append(f'<li id="{anchor}" style="{_S["insight"]}">')
        parts.append(f'<p style="{_S["headline"]}">{e(ins.headline)}</p>')
        parts.append(f'<p style="{_S["summary"]}">{e(ins.summary)}</p>')
        shown, rest = shown_citations(ins.citations)
        parts.append(f'<ul style="{_S["ul"]}">')
        parts += [_citation_html(c) for c in shown]
        parts.append("</ul>")
        if rest and fold:
            parts.append(
                f'<details><summary style="{_S["summary_more"]}">{_more(len(rest))}</summary>'
                f'<ul style="{_S["ul"]}">'
            )
            parts += [_citation_html(c) for c in rest]
            parts.append("</ul></details>")
        elif rest:
            more = _more(len(rest))
            if page_url:
                more = f'<a href="{e(page_url)}#{anchor}" style="{_S["a"]}">{more}</a>'
            parts.append(f'<p style="{_S["more"]}">{more}</p>')
        parts.append("</li>")
    parts.append("</ol>")
    return "\n".join(parts)


def _document(digest: Digest, body: str, footer: str = "") -> str:
    e = html.escape
    return (
        "\n".join(
            [
                "<!doctype html>",
                '<html lang="en"><head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{e(_title(digest))}</title></head>",
                f'<body style="{_S["body"]}"><div style="{_S["wrap"]}">',
                f'<h1 style="{_S["h1"]}">{e(_title(digest))}</h1>',
                body,
                *([footer] if footer else []),
                "</div></body></html>",
            ]
        )
        + "\n"
    )


def to_html(digest: Digest) -> str:
    """The day's page: readable on a phone; every citation, past three folded under "+N more"."""
    return _document(digest, _insights_html(digest, None, fold=True))


def to_email_html(
    digest: Digest, page_url: str | None = None, unsubscribe: str | None = None
) -> str:
    """The email's HTML part: three citations an insight, "+N more" linking the page."""
    e = html.escape
    links = []
    if page_url:
        links.append(f'<a href="{e(page_url)}" style="{_S["a"]}">View on the web</a>')
    if unsubscribe:
        links.append(f'<a href="{e(unsubscribe)}" style="{_S["a"]}">Unsubscribe</a>')
    footer = f'<p style="{_S["foot"]}">{" &middot; ".join(links)}</p>' if links else ""
    return _document(digest, _insights_html(digest, page_url, fold=False), footer)


def to_rss(
    digests: list[Digest],
    site_url: str,
    feed_url: str | None = None,
    built: datetime | None = None,
) -> str:
    """An RSS 2.0 feed of digests, newest first, for the site at `site_url` (a folder URL).

    Each item links its day's page and carries the digest as an HTML fragment; days without
    insights are no items. `feed_url` is where this feed is served (default: feed.xml on the
    site), `built` its lastBuildDate (default: now).
    """
    site = site_url.rstrip("/") + "/"
    feed_url = feed_url or site + "feed.xml"
    built = built or datetime.now(UTC)
    items = []
    for d in sorted(digests, key=lambda d: d.date, reverse=True):
        if not d.insights:
            continue
        day = d.date.isoformat()
        published = datetime.combine(d.date, datetime.min.time(), tzinfo=UTC)
        page = page_url(site, day)
        items.append(
            "<item>"
            f"<title>{xml_escape(_title(d))}</title>"
            f"<link>{xml_escape(page)}</link>"
            f'<guid isPermaLink="false">podcast-insights-{day}</guid>'
            f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
            f"<description>{xml_escape(_insights_html(d, page, fold=False))}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        "<title>Podcast Insights: the day's top 5</title>"
        f"<link>{xml_escape(site)}</link>"
        f'<atom:link href="{xml_escape(feed_url, {chr(34): "&quot;"})}" rel="self" '
        'type="application/rss+xml"/>'
        "<description>We scan new podcasts and send you the top 5 insights daily.</description>"
        "<language>en</language>"
        f"<lastBuildDate>{format_datetime(built.astimezone(UTC), usegmt=True)}</lastBuildDate>"
        + "".join(items)
        + "</channel></rss>\n"
    )


def candidates_table(decisions: list[Decision]) -> str:
    """Every candidate topic and why it is, or is not, in the digest (for the UI)."""
    head = "| topic | shows | episodes | claims | quality | coherence | score | decision |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for d in decisions:
        c = d.candidate
        lines.append(
            f"| {c.topic_id} | {len(c.podcasts)} | {c.episodes} | {c.claims} | {c.quality:.2f} "
            f"| {c.coherence:.2f} | {d.score:.2f} | {d.reason} |"
        )
    return "\n".join(lines) if decisions else "(no candidate topics)"
