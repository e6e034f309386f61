"""Stand-ins behind the resources' own interfaces, for fast tests of the assets that use them."""

from __future__ import annotations

from pathlib import Path

from dagster_project.lib.audio import over_limit
from dagster_project.lib.segments import Segment
from dagster_project.resources.models import Transcriber


class FakeTranscriber(Transcriber):
    """A Transcriber that loads no model: the audio file's text content is what it "hears".

    A file holding `FAIL` raises as a broken decoder would; an empty one has no speech. Like the
    real one, it refuses audio over `max_audio_s` before reading it. `calls` lists the files it
    was asked to transcribe, `prompted` them with their prompts (kept in the file `calls_log`:
    Dagster copies a resource per run).
    """

    calls_log: str

    @property
    def calls(self) -> list[str]:
        """The files asked for, in order."""
        return [file for file, _ in self.prompted]

    @property
    def prompted(self) -> list[tuple[str, str]]:
        """(file, the prompt it was transcribed with) per call."""
        log = Path(self.calls_log)
        lines = log.read_text().splitlines() if log.exists() else []
        return [tuple(line.split("\t", 1)) for line in lines]  # type: ignore[misc]

    def settings_key(self) -> str:
        return "fake"

    def transcribe(
        self, audio_path: str, duration_s: float | None = None, prompt: str = ""
    ) -> tuple[list[Segment], float]:
        if duration_s is not None and duration_s > self.max_audio_s:
            raise over_limit(duration_s, self.max_audio_s)
        with open(self.calls_log, "a") as log:
            log.write(Path(audio_path).name + "\t" + prompt + "\n")
        text = Path(audio_path).read_text().strip()
        if text == "FAIL":
            raise RuntimeError("the decoder gave up")
        seconds = float(duration_s or 10.0)
        sentences = [s.strip() + "." for s in text.split(".") if s.strip()]
        step = seconds / max(1, len(sentences))
        segments = [
            Segment(i * step, (i + 1) * step, s, words=[(i * step, (i + 1) * step, s, 0.9)])
            for i, s in enumerate(sentences)
        ]
        return segments, seconds
