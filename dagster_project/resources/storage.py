"""The data folder: raw feeds, audio, transcript cache and digest files."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from dagster_project.lib.settings import FeedsConfig, load_feeds_file


class DataHome(dg.ConfigurableResource):
    """Paths under $PODCAST_INSIGHTS_HOME and the feeds file."""

    home: str
    feeds_file: str
    max_audio_bytes: int = 300_000_000

    @property
    def root(self) -> Path:
        return Path(self.home)

    def path(self, *parts: str) -> Path:
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def audio_file(self, sha256: str) -> Path:
        """The stored audio with this content hash (audio/<sha[:2]>/<sha>.<ext>)."""
        found = sorted((self.root / "audio" / sha256[:2]).glob(f"{sha256}.*"))
        if not found:
            raise OSError(f"stored audio {sha256} is missing")
        return found[0]

    def feeds(self) -> FeedsConfig:
        return load_feeds_file(Path(self.feeds_file))
