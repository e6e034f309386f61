"""Podcast RSS parsing: raw XML in, the feed's episodes out. No network here."""

from __future__ import annotations

import calendar
import codecs
import hashlib
import html.entities
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urljoin, urlparse
from xml.etree import ElementTree

import defusedxml.ElementTree as SafeET
import feedparser
from defusedxml import DefusedXmlException

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
TRANSCRIPT_TYPES = ("text/vtt", "application/x-subrip", "application/srt", "application/json")

# What an undeclared prefix means: the namespaces podcast feeds use, under their usual prefixes.
KNOWN_NAMESPACES = {
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "podcast": PODCAST_NS,
    "googleplay": "http://www.google.com/schemas/play-podcasts/1.0",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "atom": "http://www.w3.org/2005/Atom",
    "media": "http://search.yahoo.com/mrss/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "psc": "http://podlove.org/simple-chapters",
    "spotify": "http://www.spotify.com/ns/rss",
}
WHITESPACE = b" \t\r\n"
UTF8_BOM = b"\xef\xbb\xbf"
DECLARATION = re.compile(rb"<\?xml[^>]*?\?>")
DECLARATION_TEXT = re.compile(r"^\s*<\?xml[^>]*?\?>")
ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The prolog (declaration, comments, processing instructions, DOCTYPE), then the root's name.
ROOT_TAG = re.compile(
    r"(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)*+<([A-Za-z_][\w.:-]*)", re.S
)
XMLNS_PREFIX = re.compile(r"xmlns:([A-Za-z_][\w.-]*)\s*=")
USED_PREFIX = re.compile(
    r"</?([A-Za-z_][\w.-]*):[A-Za-z_]|\s([A-Za-z_][\w.-]*):[A-Za-z_][\w.-]*\s*=\s*[\"']"
)
REFERENCE = re.compile(r"&(?:#[0-9]+;|#[xX][0-9a-fA-F]+;|([A-Za-z][A-Za-z0-9]*);)?")
XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
CDATA = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.S)


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


def _readable_xml(raw: bytes, feed: str) -> tuple[ElementTree.Element, bytes]:
    """The feed's XML tree, and the bytes it was read from (what feedparser then reads).

    Every copy goes through defusedxml: no entity declarations (so no entity expansion), no
    external entities. The feed as sent is tried first; when that is not well-formed, copies
    with the mistakes real feeds make (and feedparser forgives) repaired one after the other.
    A repair never gets past a DTD: a declared entity is refused in any copy.
    """
    if not raw or not raw.strip():
        raise FeedError(f"feed {feed!r}: the response is empty")
    error: SafeET.ParseError | None = None
    tried: bytes | None = None
    for data in _repaired_copies(raw):
        if data == tried:  # that repair had nothing to change
            continue
        tried = data
        try:
            return SafeET.fromstring(data), data
        except DefusedXmlException as exc:
            raise FeedError(f"feed {feed!r}: refused hostile XML ({type(exc).__name__})") from exc
        except SafeET.ParseError as exc:
            error = exc
    raise FeedError(f"feed {feed!r}: not XML ({error})")


def _repaired_copies(raw: bytes) -> Iterator[bytes]:
    """The feed as sent, then with more and more repaired; made only as far as one is needed."""
    yield raw
    # Blank lines or a BOM and spaces before "<?xml" (template engines, hand-edited files).
    data = raw.lstrip(WHITESPACE)
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :].lstrip(WHITESPACE)
    yield data
    # Bytes the declared encoding cannot read, and control characters XML forbids.
    text = XML_FORBIDDEN.sub("", _decode(data))
    yield _utf8(text)
    # itunes:, podcast:, ... used without xmlns declarations.
    text = _declare_prefixes(text)
    yield _utf8(text)
    # HTML entities (&nbsp;) XML does not know, and bare ampersands (AT&T, ?a=1&b=2).
    yield _utf8(_outside_cdata(text, _fix_references))


def _decode(data: bytes) -> str:
    """The document as text, as feedparser reads it: by its declared encoding; undeclared or
    UTF-8, as UTF-8 with each byte that is not UTF-8 read as Windows-1252 (a Latin-1 feed, or
    one such byte pasted into an otherwise UTF-8 feed)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    declaration = DECLARATION.match(data)
    declared = ENCODING.search(declaration.group()) if declaration else None
    if declared:
        try:
            codec = codecs.lookup(declared.group(1).decode("ascii")).name
        except LookupError:
            codec = "utf-8"
        # A declaration readable as ASCII bytes means an 8-bit document, whatever it says.
        if codec not in ("utf-8", "ascii") and not codec.startswith(("utf-16", "utf-32")):
            return data.decode(codec, errors="replace")
    return data.decode("utf-8", errors=STRAY_BYTES_AS_CP1252)


def _cp1252_for_stray_bytes(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("cp1252", errors="replace"), exc.end


STRAY_BYTES_AS_CP1252 = "podcast-insights-cp1252"
codecs.register_error(STRAY_BYTES_AS_CP1252, _cp1252_for_stray_bytes)


def _utf8(text: str) -> bytes:
    """The text as UTF-8, its declaration saying so (the old one named the old encoding)."""
    body = DECLARATION_TEXT.sub("", text, count=1)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + body.encode("utf-8")


def _declare_prefixes(text: str) -> str:
    """Declare on the root element every prefix the document uses but the root leaves
    undeclared: the usual namespace for the common ones, a placeholder for the rest."""
    root = ROOT_TAG.match(text)
    if not root:
        return text
    root_tag = text[root.start(1) : text.find(">", root.end(1))]
    declared = {"xml", "xmlns", *XMLNS_PREFIX.findall(root_tag)}
    used = {a or b for a, b in USED_PREFIX.findall(text)} - declared
    added = "".join(
        f' xmlns:{p}="{KNOWN_NAMESPACES.get(p, f"urn:x-undeclared-prefix:{p}")}"'
        for p in sorted(used)
    )
    return text[: root.end(1)] + added + text[root.end(1) :]


def _fix_references(text: str) -> str:
    def fix(m: re.Match) -> str:
        name = m.group(1)
        if m.group(0) == "&":
            return "&amp;"
        if name is None or name in XML_ENTITIES:
            return m.group(0)  # a character reference, or one XML defines
        chars = html.entities.html5.get(f"{name};")
        if chars is None:
            return f"&amp;{name};"
        return "".join(f"&#{ord(c)};" for c in chars)

    return REFERENCE.sub(fix, text)


def _outside_cdata(text: str, change: Callable[[str], str]) -> str:
    """change() applied to the text but not to CDATA sections, where & is just a character."""
    parts = CDATA.split(text)
    return "".join(p if p.startswith("<![CDATA[") else change(p) for p in parts)


def _podcast_extras(root: ElementTree.Element) -> tuple[bool, list[Person], dict[str, dict]]:
    """podcast: namespace elements that feedparser does not keep: block, person, transcript."""
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
    root, data = _readable_xml(raw, feed)
    parsed = feedparser.parse(data)
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(f"feed {feed!r}: XML but not an RSS or Atom feed")
    channel_blocked, channel_persons, extras = _podcast_extras(root)
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
        if audio_url is None or guid is None:  # guid falls back on audio_url: None only with it
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
                transcript_type=transcript[1] if transcript and transcript_url else None,
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
