"""The digest: insights with their evidence, and its renderings (JSON, Markdown, HTML, RSS)."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape as xml_escape

from dagster_project.lib.claims import REPORTING, strip_hedges

REPORTING_VERB = "argues"


def _lower_first(text: str, entities: list[str]) -> str:
    """Lower-case the first word unless it is a name, an acronym or 'I'."""
    first = text.split(" ", 1)[0]
    if not first or first == "I" or first.isupper() or any(e.startswith(first) for e in entities):
        return text
    return first[:1].lower() + text[1:]


def sentence(text: str) -> str:
    text = text.strip()
    return text if re.search(r"[.!?]$", text) else text + "."


def headline(
    text: str, speaker: str | None, entities: list[str], cites_source: bool = False
) -> str:
    """One clear sentence, attributed when the speaker is known: 'Ann Lee argues that ...'.

    A claim that already names its source ("The FDIC says ...") is the source's, not the
    speaker's, and stays as it is.
    """
    body = strip_hedges(text)
    body = body[:1].upper() + body[1:]
    # "Figure says ..." already names its source: the speaker is only reporting it.
    reports_someone = REPORTING.search(" ".join(body.split()[:5]))
    if speaker and not (reports_someone or cites_source):
        return sentence(f"{speaker} {REPORTING_VERB} that {_lower_first(body, entities)}")
    return sentence(body)


def deep_link(url: str | None, start_s: float) -> str | None:
    if not url:
        return None
    return f"{url.split('#', 1)[0]}#t={int(start_s)}"


def summary(podcast_titles: list[str], episodes: int, novelty: str, last: str | None) -> str:
    shows = ", ".join(podcast_titles)
    n = len(podcast_titles)
    who = "one show" if n == 1 else f"{n} shows"
    line = f"Discussed by {who} ({shows}) in {episodes} episode"
    line += "s" if episodes != 1 else ""
    if novelty == "new":
        return line + "; new today."
    return line + f"; recurring, last featured on {last}."


def _clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _show(citation: dict) -> str:
    return citation.get("podcast_title") or citation["podcast"]


def to_json(digest: dict) -> str:
    return json.dumps(digest, indent=2, ensure_ascii=False) + "\n"


def to_markdown(digest: dict) -> str:
    lines = [f"# Top insights for {digest['date']}", ""]
    if not digest["insights"]:
        lines.append(digest.get("note") or "No insights today.")
    for ins in digest["insights"]:
        lines.append(f"{ins['rank']}. **{ins['headline']}**")
        lines.append(f"   {ins['summary']}")
        for c in ins["citations"]:
            who = f" ({c['speaker']})" if c.get("speaker") else ""
            lines.append(
                f"   - [{_show(c)}: {c['episode_title']} at {_clock(c['start_s'])}]"
                f'({c["url"]}){who}: "{c["quote"]}"'
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_html(digest: dict) -> str:
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Top insights for {e(digest['date'])}</title></head><body>",
        f"<h1>Top insights for {e(digest['date'])}</h1>",
    ]
    if not digest["insights"]:
        parts.append(f"<p>{e(digest.get('note') or 'No insights today.')}</p>")
    parts.append("<ol>")
    for ins in digest["insights"]:
        parts.append(f"<li><p><strong>{e(ins['headline'])}</strong></p>")
        parts.append(f"<p>{e(ins['summary'])}</p><ul>")
        for c in ins["citations"]:
            who = f" ({e(c['speaker'])})" if c.get("speaker") else ""
            parts.append(
                f'<li><a href="{e(c["url"] or "")}">{e(_show(c))}: '
                f"{e(c['episode_title'])} at {_clock(c['start_s'])}</a>{who}: "
                f"&ldquo;{e(c['quote'])}&rdquo;</li>"
            )
        parts.append("</ul></li>")
    parts.append("</ol></body></html>")
    return "\n".join(parts) + "\n"


def to_rss(digests: list[dict], link: str = "https://example.com/podcast-insights") -> str:
    """An RSS feed of digests, newest first."""
    items = []
    for d in sorted(digests, key=lambda d: d["date"], reverse=True):
        published = datetime.fromisoformat(d["date"]).replace(tzinfo=UTC)
        body = to_html(d)
        items.append(
            "<item>"
            f"<title>Top insights for {d['date']}</title>"
            f'<guid isPermaLink="false">podcast-insights-{d["date"]}</guid>'
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<description>{xml_escape(body)}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        "<title>Podcast Insights: the day's top 5</title>"
        f"<link>{xml_escape(link)}</link>"
        "<description>We scan new podcasts and send you the top 5 insights daily.</description>"
        + "".join(items)
        + "</channel></rss>\n"
    )
