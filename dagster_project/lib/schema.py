"""The warehouse tables (the contract in README), portable across DuckDB and PostgreSQL."""

from __future__ import annotations

TABLES: dict[str, list[tuple[str, str]]] = {
    "feed_fetches": [
        ("partition_date", "DATE"),
        ("feed", "TEXT"),
        ("url", "TEXT"),
        ("status", "TEXT"),  # fetched, not_modified, blocked, failed
        ("http_status", "INTEGER"),
        ("raw_sha256", "TEXT"),
        ("title", "TEXT"),
        ("items", "INTEGER"),
        ("fetched_at", "TIMESTAMP"),
        ("error", "TEXT"),
    ],
    "episodes": [
        ("partition_date", "DATE"),
        ("feed", "TEXT"),
        ("guid", "TEXT"),
        ("title", "TEXT"),
        ("published_at", "TIMESTAMP"),
        ("audio_url", "TEXT"),
        ("duration_s", "DOUBLE PRECISION"),  # the feed's itunes:duration
        ("audio_type", "TEXT"),
        ("description", "TEXT"),
        ("author", "TEXT"),
        ("link", "TEXT"),
        ("persons", "TEXT"),  # JSON [{"name", "role"}]
        ("transcript_url", "TEXT"),
        ("transcript_type", "TEXT"),
        ("feed_title", "TEXT"),
    ],
    "episode_audio": [  # one row per episode whose audio is stored
        ("partition_date", "DATE"),
        ("feed", "TEXT"),
        ("episode_guid", "TEXT"),
        ("audio_url", "TEXT"),
        ("audio_sha256", "TEXT"),  # the file in the audio store
        ("audio_bytes", "BIGINT"),
        ("duration_s", "DOUBLE PRECISION"),  # decoded to its end
    ],
    "transcript_segments": [
        ("partition_date", "DATE"),
        ("feed", "TEXT"),
        ("episode_guid", "TEXT"),
        ("segment_index", "INTEGER"),
        ("start_s", "DOUBLE PRECISION"),
        ("end_s", "DOUBLE PRECISION"),
        ("text", "TEXT"),
        ("source", "TEXT"),  # whisper or feed
        ("speaker", "TEXT"),
        # JSON [[start_s, end_s, word, probability], ...] when the transcriber gave them
        ("words", "TEXT"),
    ],
    "segment_voices": [
        ("partition_date", "DATE"),
        ("feed", "TEXT"),
        ("episode_guid", "TEXT"),
        ("segment_index", "INTEGER"),
        ("voice", "TEXT"),  # speaker_1, speaker_2, ... within the episode; null: too short to tell
        ("speaker", "TEXT"),  # the voice's name, only on evidence (lib/voices.py)
    ],
    "claims": [
        ("partition_date", "DATE"),
        ("claim_id", "TEXT"),
        ("feed", "TEXT"),
        ("episode_guid", "TEXT"),
        ("start_s", "DOUBLE PRECISION"),
        ("end_s", "DOUBLE PRECISION"),
        ("text", "TEXT"),
        ("score", "DOUBLE PRECISION"),
        ("speaker", "TEXT"),  # a name only on evidence: transcript labels, or a named voice
        ("voice", "TEXT"),  # the voice that said it (speaker_1, ...), when told apart
        ("raw_text", "TEXT"),  # the sentence as transcribed
        ("entities", "TEXT"),  # JSON list of entity texts
        ("cites_source", "BOOLEAN"),  # the claim reports a named source ("The FDIC says ...")
        # how surely the transcriber heard it: the geometric mean of its words' probabilities
        # (null when the transcript has none: a publisher's, or one stored before they were kept)
        ("clarity", "DOUBLE PRECISION"),
    ],
    "topics": [
        ("partition_date", "DATE"),
        ("topic_id", "TEXT"),
        ("label", "TEXT"),
        ("keywords", "TEXT"),  # JSON list
        ("claims", "INTEGER"),  # claims of the day in the topic
        ("episodes", "INTEGER"),
        ("podcasts", "INTEGER"),
        ("window_claims", "INTEGER"),  # claims of the whole trailing window in the topic
        ("centroid", "TEXT"),  # JSON list: the topic's unit embedding, for stable ids
        # JSON list: the unit mean of the day's claims alone (what the day's insight would say)
        ("day_centroid", "TEXT"),
    ],
    "claim_topics": [
        ("partition_date", "DATE"),
        ("claim_id", "TEXT"),
        ("topic_id", "TEXT"),
        ("centrality", "DOUBLE PRECISION"),
    ],
    "digest_insights": [
        ("partition_date", "DATE"),
        ("rank", "INTEGER"),
        ("topic_id", "TEXT"),
        ("headline", "TEXT"),
        ("summary", "TEXT"),
        ("novelty", "TEXT"),
        ("citations", "TEXT"),  # JSON list, as in the digest JSON
        ("topic_label", "TEXT"),
        ("keywords", "TEXT"),
        ("support", "TEXT"),
        ("score", "DOUBLE PRECISION"),
    ],
    "failures": [
        ("partition_date", "DATE"),
        ("stage", "TEXT"),
        ("feed", "TEXT"),
        ("episode_guid", "TEXT"),
        ("url", "TEXT"),
        ("error", "TEXT"),
        ("recorded_at", "TIMESTAMP"),
    ],
    "deliveries": [
        ("partition_date", "DATE"),
        ("channel", "TEXT"),
        ("target", "TEXT"),
        ("delivered_at", "TIMESTAMP"),
        ("detail", "TEXT"),
    ],
    # Bookkeeping: what each day of each data table holds (a hash of its rows) and the key of the
    # inputs, settings and code it was made from. A stage whose inputs key matches skips its work.
    "table_versions": [
        ("partition_date", "DATE"),
        ("table_name", "TEXT"),
        ("rows_sha256", "TEXT"),
        ("row_count", "INTEGER"),
        ("inputs_key", "TEXT"),
        ("written_at", "TIMESTAMP"),
    ],
}


def create_statements() -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(f'{c} {t}' for c, t in cols)})"
        for name, cols in TABLES.items()
    ]


def add_column_statements() -> list[str]:
    """Columns added since a table was created (the warehouse grows, it is never rebuilt)."""
    return [
        f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {c} {t}"
        for name, cols in TABLES.items()
        for c, t in cols
    ]


def columns(table: str) -> list[str]:
    return [c for c, _ in TABLES[table]]
