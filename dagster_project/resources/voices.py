"""The speaker encoder: one embedding per stretch of audio, to tell voices apart.

resemblyzer's pretrained encoder ships inside its PyPI wheel, so nothing is downloaded.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
from threadpoolctl import threadpool_limits

from dagster_project.lib.audio import SAMPLE_RATE, pcm
from dagster_project.lib.mel import mel_spectrogram
from dagster_project.lib.tuning import VOICE_MAX_PARTIALS, VOICE_MIN_SEGMENT_S

_MODELS: dict[str, Any] = {}  # one encoder per process


class SpeakerEncoder(dg.ConfigurableResource):
    """Speaker embeddings (resemblyzer's GE2E encoder, 256 dimensions, unit length)."""

    min_span_s: float = VOICE_MIN_SEGMENT_S  # shorter spans carry too little voice: no embedding
    max_partials: int = VOICE_MAX_PARTIALS  # 1.6-s windows embedded per span, spread over it
    # numpy's BLAS threads while embedding. numpy computes each span's mel filter bank, torch's
    # encoder (its own OpenMP threads) follows at once, and BLAS threads left spinning after
    # the first take the cores from the second: with one, the demo episodes' 141 lines embed
    # 2.7x as fast on 2 cores, the same embeddings (scripts/benchmark.sh voices). 0 = BLAS's
    # default.
    blas_threads: int = 1

    def settings_key(self) -> str:
        """Part of the cache key of everything computed from these embeddings."""
        return f"resemblyzer-0.1.4-min{self.min_span_s:g}-partials{self.max_partials}"

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
        memory stays flat whatever the episode's length. A span running past the decoded end
        is embedded from what there is.
        """
        order = sorted(range(len(spans)), key=lambda i: spans[i][0])
        out: list[np.ndarray | None] = [None] * len(spans)
        wanted = [i for i in order if spans[i][1] - spans[i][0] >= self.min_span_s]
        if not wanted:
            return out
        encoder = self._load()
        # limits=None (blas_threads 0) leaves BLAS as it is
        with threadpool_limits(limits=self.blas_threads or None, user_api="blas"):
            held: list[np.ndarray] = []
            held_from = held_len = 0  # sample offset of held[0][0]; samples held
            pending = iter(wanted)
            current = next(pending, None)
            for piece in itertools.chain(pcm(audio), [None]):  # None: the file has ended
                if piece is not None:
                    held.append(piece)
                    held_len += len(piece)
                while current is not None:
                    start = int(spans[current][0] * SAMPLE_RATE) - held_from
                    end = int(spans[current][1] * SAMPLE_RATE) - held_from
                    if piece is not None and end > held_len:
                        break  # not decoded yet
                    samples = np.concatenate(held) if held else np.zeros(0, np.float32)
                    cut = samples[max(0, start) : end]
                    if len(cut) >= self.min_span_s * SAMPLE_RATE:
                        out[current] = self._embed(encoder, cut, self.max_partials)
                    current = next(pending, None)
                    keep_from = (
                        int(spans[current][0] * SAMPLE_RATE) if current is not None else held_from
                    )
                    drop = max(0, min(keep_from, held_from + held_len) - held_from)
                    held, held_from, held_len = [samples[drop:]], held_from + drop, held_len - drop
                if current is None:
                    break
            return out

    @staticmethod
    def _embed(encoder: Any, samples: np.ndarray, max_partials: int) -> np.ndarray | None:
        """The encoder's utterance embedding (the normalised mean of its 1.6-s windows' ones,
        a window every 0.77 s), from at most `max_partials` of those windows, evenly spread."""
        if not len(samples):
            return None
        peak = float(np.abs(samples).max())
        if peak == 0.0:
            return None  # digital silence has no voice
        import torch
        from resemblyzer.audio import normalize_volume

        # The encoder's own loudness normalisation, without its resampling or VAD trimming
        # (the transcript's seconds already bound the speech).
        wav = normalize_volume(samples.astype(np.float32), -30, increase_only=True)
        wav_slices, mel_slices = encoder.compute_partial_slices(len(wav), 1.3, 0.75)
        if wav_slices[-1].stop > len(wav):
            wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)))
        if len(mel_slices) > max_partials:
            chosen = np.linspace(0, len(mel_slices) - 1, max_partials).round().astype(int)
            mel_slices = [mel_slices[i] for i in chosen]
        mel = mel_spectrogram(wav)  # librosa's numbers, without its numba compilation
        with torch.no_grad():
            partials = encoder(torch.from_numpy(np.array([mel[s] for s in mel_slices])))
        raw = partials.numpy().mean(axis=0)
        return (raw / np.linalg.norm(raw)).astype(np.float32)
