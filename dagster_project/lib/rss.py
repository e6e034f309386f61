"""Podcast RSS parsing: raw XML in, the feed's episodes out. No network here."""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urljoin, urlparse

import defusedxml.ElementTree as SafeET
import feedparser
from defusedxml import DefusedXmlException

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
TRANSCRIPT_TYPES = ("text/vtt", "application/x-subrip", "application/srt", "application/json")


class FeedError(ValueError):
    """A feed that cannot be used; the message names what is wrong."""


@dataclass(frozen=True)
class Person:
    name: str
    role: str  # host, guest, ... (podcast:person role, lower case)


@dataclass
class Episode:
    feed: str
    guid: str
    title: str
    published_at: datetime  # UTC, naive
    audio_url: str | None
    audio_type: str | None = None
    audio_length: int | None = None
    description: str = ""
    author: str | None = None
    link: str | None = None
    duration_s: float | None = None
    persons: list[Person] = field(default_factory=list)
    transcript_url: str | None = None
    transcript_type: str | None = None

    @property
    def partition_date(self) -> date:
        return self.published_at.date()


@dataclass
class ParsedFeed:
    title: str
    blocked: bool
    episodes: list[Episode]
    skipped: list[tuple[str, str, date | None]]  # (item id or title, why, UTC day) left out


def parse_duration(value: str | None) -> float | None:
    """itunes:duration: seconds, MM:SS or HH:MM:SS."""
    if not value:
        return None
    try:
        parts = [float(p) for p in str(value).strip().split(":")]
    except ValueError:
        return None
    if not parts or len(parts) > 3 or any(p < 0 for p in parts):
        return None
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def _check_xml(raw: bytes, feed: str) -> None:
    """Reject what is not XML and what is hostile (entity expansion, external entities)."""
    if not raw or not raw.strip():
        raise FeedError(f"feed {feed!r}: the response is empty")
    try:
        SafeET.fromstring(raw)
    except DefusedXmlException as exc:
        raise FeedError(f"feed {feed!r}: refused hostile XML ({type(exc).__name__})") from exc
    except SafeET.ParseError as exc:
        raise FeedError(f"feed {feed!r}: not XML ({exc})") from exc


def _podcast_extras(raw: bytes) -> tuple[bool, list[Person], dict[str, dict]]:
    """podcast: namespace elements that feedparser does not keep: block, person, transcript."""
    root = SafeET.fromstring(raw)
    channel = root.find("channel")
    if channel is None:
        return False, [], {}
    p = f"{{{PODCAST_NS}}}"

    def persons(el) -> list[Person]:
        return [
            Person(name=(x.text or "").strip(), role=(x.get("role") or "host").strip().lower())
            for x in el.findall(f"{p}person")
            if (x.text or "").strip()
        ]

    def blocked(el) -> bool:
        for b in el.findall(f"{p}block"):
            if b.get("id") in (None, "", "all") and (b.text or "").strip().lower() == "yes":
                return True
        return False

    items: dict[str, dict] = {}
    for item in channel.findall("item"):
        key = _item_key(item.findtext("guid"), item.find("enclosure"), item.findtext("title"))
        transcripts = [
            (t.get("url"), (t.get("type") or "").lower())
            for t in item.findall(f"{p}transcript")
            if t.get("url")
        ]
        usable = [t for t in transcripts if t[1] in TRANSCRIPT_TYPES]
        items.setdefault(
            key,
            {
                "persons": persons(item),
                "transcript": usable[0] if usable else None,
                "blocked": blocked(item),
            },
        )
    return blocked(channel), persons(channel), items


def _item_key(guid: str | None, enclosure, title: str | None) -> str:
    if guid and guid.strip():
        return guid.strip()
    if enclosure is not None and enclosure.get("url"):
        return enclosure.get("url").strip()
    return f"title:{(title or '').strip()}"


def _merge_persons(channel: list[Person], item: list[Person]) -> list[Person]:
    """An item's people add to the channel's; the item wins on a name both list."""
    by_name = {p.name: p for p in channel}
    by_name.update({p.name: p for p in item})
    return list(by_name.values())


def episode_guid(guid: str | None, audio_url: str | None) -> str | None:
    """An episode's identity in its feed: the RSS guid, else the enclosure URL."""
    if guid and guid.strip():
        return guid.strip()
    if audio_url:
        return audio_url
    return None


def _link(feed_url: str, href: str) -> str | None:
    """An item's link made absolute; http(s) only, unless the feed itself is a local file.

    A remote feed must not point the pipeline at files on this machine (file:///etc/...).
    """
    url = urljoin(feed_url, href.strip())
    scheme = urlparse(url).scheme
    if scheme in ("http", "https") or (scheme == "file" and urlparse(feed_url).scheme == "file"):
        return url
    return None


def parse_feed(raw: bytes, feed: str, feed_url: str) -> ParsedFeed:
    """Parse a podcast feed; relative enclosure and transcript URLs resolve against feed_url."""
    _check_xml(raw, feed)
    parsed = feedparser.parse(raw)
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(f"feed {feed!r}: XML but not an RSS or Atom feed")
    channel_blocked, channel_persons, extras = _podcast_extras(raw)
    episodes: list[Episode] = []
    skipped: list[tuple[str, str, date | None]] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        day = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC).date() if stamp else None
        enclosures = [
            link
            for link in entry.get("links", [])
            if link.get("rel") == "enclosure" and link.get("href")
        ]
        audio = next((e for e in enclosures if (e.get("type") or "").startswith("audio")), None)
        audio = audio or (enclosures[0] if enclosures else None)
        audio_url = _link(feed_url, audio["href"]) if audio else None
        raw_guid = entry.get("id")
        guid = episode_guid(raw_guid, audio_url)
        label = guid or entry.get("title") or "untitled item"
        if audio is None:
            skipped.append((label, "no audio enclosure", day))
            continue
        if audio_url is None:
            skipped.append((label, f"enclosure {audio['href']!r} is not an http(s) URL", day))
            continue
        if stamp is None:
            skipped.append((label, "no parsable pubDate", day))
            continue
        if guid in seen:
            skipped.append((label, "duplicate guid in feed", day))
            continue
        seen.add(guid)
        key = raw_guid.strip() if raw_guid else enclosures[0]["href"].strip()
        extra = extras.get(key, {})
        if extra.get("blocked"):
            skipped.append((label, "podcast:block", day))
            continue
        published = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC).replace(tzinfo=None)
        transcript = extra.get("transcript")
        transcript_url = _link(feed_url, transcript[0]) if transcript else None
        length = audio.get("length")
        episodes.append(
            Episode(
                feed=feed,
                guid=guid,
                title=(entry.get("title") or "").strip(),
                published_at=published,
                audio_url=audio_url,
                audio_type=audio.get("type"),
                audio_length=int(length) if str(length or "").isdigit() else None,
                description=(entry.get("summary") or "").strip(),
                author=entry.get("author") or parsed.feed.get("author"),
                link=entry.get("link"),
                duration_s=parse_duration(entry.get("itunes_duration")),
                persons=_merge_persons(channel_persons, extra.get("persons", [])),
                transcript_url=transcript_url,
                transcript_type=transcript[1] if transcript_url else None,
            )
        )
    return ParsedFeed(
        title=(parsed.feed.get("title") or feed).strip(),
        blocked=channel_blocked,
        episodes=episodes,
        skipped=skipped,
    )


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
