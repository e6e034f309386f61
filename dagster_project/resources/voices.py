"""The speaker encoder: one embedding per stretch of audio, to tell voices apart.

resemblyzer's pretrained encoder ships inside its PyPI wheel, so nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np

from dagster_project.lib.audio import SAMPLE_RATE, pcm

_MODELS: dict[str, Any] = {}  # one encoder per process


class SpeakerEncoder(dg.ConfigurableResource):
    """Speaker embeddings (resemblyzer's GE2E encoder, 256 dimensions, unit length)."""

    min_span_s: float = 1.0  # shorter spans carry too little voice: no embedding

    def settings_key(self) -> str:
        """Part of the cache key of everything computed from these embeddings."""
        return f"resemblyzer-0.1.4-min{self.min_span_s:g}"

    def _load(self) -> Any:
        if "encoder" not in _MODELS:
            from resemblyzer import VoiceEncoder

            _MODELS["encoder"] = VoiceEncoder("cpu", verbose=False)
        return _MODELS["encoder"]

    def embed_spans(
        self, audio: str | Path, spans: Sequence[tuple[float, float]]
    ) -> list[np.ndarray | None]:
        """One embedding per (start_s, end_s) span of the file, None for a span too short.

        The file is decoded once, in order, holding only the samples the spans still need, so
        memory stays flat whatever the episode's length.
        """
        order = sorted(range(len(spans)), key=lambda i: spans[i][0])
        out: list[np.ndarray | None] = [None] * len(spans)
        wanted = [i for i in order if spans[i][1] - spans[i][0] >= self.min_span_s]
        if not wanted:
            return out
        encoder = self._load()
        held: list[np.ndarray] = []
        held_from = held_len = 0  # sample offset of held[0][0]; samples held
        pending = iter(wanted)
        current = next(pending, None)
        for piece in pcm(audio):
            held.append(piece)
            held_len += len(piece)
            while current is not None:
                start = int(spans[current][0] * SAMPLE_RATE)
                end = int(spans[current][1] * SAMPLE_RATE)
                if end > held_from + held_len:
                    break  # not decoded yet
                samples = np.concatenate(held)
                out[current] = self._embed(encoder, samples[start - held_from : end - held_from])
                current = next(pending, None)
                keep_from = (
                    int(spans[current][0] * SAMPLE_RATE) if current is not None else held_from
                )
                drop = max(0, min(keep_from, held_from + held_len) - held_from)
                held, held_from, held_len = [samples[drop:]], held_from + drop, held_len - drop
            if current is None:
                break
        if current is not None and held_len:  # spans running past the decoded end
            samples = np.concatenate(held)
            while current is not None:
                start = int(spans[current][0] * SAMPLE_RATE) - held_from
                end = int(spans[current][1] * SAMPLE_RATE) - held_from
                if end - max(0, start) >= self.min_span_s * SAMPLE_RATE:
                    out[current] = self._embed(encoder, samples[max(0, start) : end])
                current = next(pending, None)
        return out

    @staticmethod
    def _embed(encoder: Any, samples: np.ndarray) -> np.ndarray | None:
        if not len(samples):
            return None
        peak = float(np.abs(samples).max())
        if peak == 0.0:
            return None  # digital silence has no voice
        # The encoder's own loudness normalisation, without its resampling or VAD trimming
        # (the transcript's seconds already bound the speech).
        from resemblyzer.audio import normalize_volume

        wav = normalize_volume(samples.astype(np.float32), -30, increase_only=True)
        return np.asarray(encoder.embed_utterance(wav), dtype=np.float32)
