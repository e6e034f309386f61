"""Audio files: is it audio, how long is it, and its samples a window at a time."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np


class AudioError(ValueError):
    pass


class AudioTooLong(AudioError):
    pass


SAMPLE_RATE = 16000  # what Whisper and Silero VAD listen at


SUFFIXES = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/flac": ".flac",
}


def suffix_for(audio_type: str | None, url: str) -> str:
    if audio_type and audio_type.lower() in SUFFIXES:
        return SUFFIXES[audio_type.lower()]
    tail = Path(url.split("?", 1)[0].split("#", 1)[0]).suffix.lower()
    return tail if tail in set(SUFFIXES.values()) else ".audio"


def decoded_duration(path: Path) -> float:
    """Seconds of audio that actually decode; raises AudioError when none do."""
    import av

    if path.stat().st_size == 0:
        raise AudioError("the audio file is empty")
    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise AudioError("the file has no audio stream")
            stream = streams[0]
            samples = 0
            rate = stream.rate or stream.codec_context.sample_rate
            for frame in container.decode(stream):
                samples += frame.samples
    except AudioError:
        raise
    except Exception as exc:  # PyAV raises many error types for undecodable input
        raise AudioError(f"not decodable audio ({type(exc).__name__}: {exc})") from exc
    if samples == 0 or not rate:
        raise AudioError("no audio frames decode")
    return samples / rate


def over_limit(seconds: float, max_s: float) -> AudioTooLong:
    return AudioTooLong(f"{seconds:.0f} s of audio, over the {max_s:.0f} s limit")


def pcm(path: str | Path, group_s: float = 5.0) -> Iterator[np.ndarray]:
    """The file's first audio stream as 16 kHz mono float32, in pieces of about `group_s`.

    The same samples as faster_whisper.decode_audio (s16 through PyAV's resampler, then
    scaled), without ever holding the whole file.
    """
    import av
    from av.audio.fifo import AudioFifo
    from av.audio.resampler import AudioResampler

    resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("the file has no audio stream")
            stream = container.streams.audio[0]
            group = int(group_s * (stream.rate or stream.codec_context.sample_rate or 48000))
            fifo = AudioFifo()  # resampling per codec frame costs more than the decoding
            for frame in _decoded(container, stream):
                frame.pts = None  # a timestamp gap or overlap must not stop the FIFO
                fifo.write(frame)
                if fifo.samples >= group:
                    yield from _resampled(resampler, fifo.read())
            if fifo.samples:
                yield from _resampled(resampler, fifo.read())
            yield from _resampled(resampler, None)
    finally:
        del resampler
        gc.collect()  # PyAV frees its resampler graphs only on collection (faster-whisper #390)


def _decoded(container, stream) -> Iterator:
    from av.error import InvalidDataError

    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except InvalidDataError:
            continue  # a corrupt packet costs its few milliseconds, not the episode
        yield from frames


def _resampled(resampler, frame) -> Iterator[np.ndarray]:
    for out in resampler.resample(frame):
        yield out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0


def decode_windows(
    path: str | Path,
    *,
    window_s: float = 300.0,
    search_s: float = 30.0,
    cut: Callable[[np.ndarray], int] | None = None,
    max_s: float | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """(start_s, samples) over the file, 16 kHz mono float32, one window at a time.

    About one window is held at once whatever the file's length (decoding a 2-hour episode
    whole takes gigabytes in Whisper's feature extractor). Each window but the last ends inside
    its final `search_s` seconds, at the offset `cut` returns for those samples (a pause, so no
    word is split between windows); without `cut`, at exactly `window_s`. Raises AudioTooLong as
    soon as more than `max_s` seconds decode.
    """
    window = int(window_s * SAMPLE_RATE)
    search = max(0, min(window - 1, int(search_s * SAMPLE_RATE)))
    limit = None if max_s is None else int(max_s * SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    held = start = 0  # samples not yet yielded; sample offset of the first of them
    for piece in pcm(path):
        pieces.append(piece)
        held += len(piece)
        if max_s is not None and limit is not None and start + held > limit:
            raise over_limit((start + held) / SAMPLE_RATE, max_s)
        while held >= window:
            samples = np.concatenate(pieces)
            at = window
            if cut is not None and search:
                at = window - search + min(search, max(0, cut(samples[window - search : window])))
            yield start / SAMPLE_RATE, samples[:at]
            start += at
            pieces = [samples[at:].copy()]  # a copy, so the yielded window's memory can go
            held = len(pieces[0])
    if held:
        yield start / SAMPLE_RATE, np.concatenate(pieces)


def pause_cut(speech: list[tuple[int, int]], length: int) -> int:
    """Where to cut `length` samples whose speech spans are `speech`: mid longest pause.

    With no pause at all (speech throughout), the end.
    """
    edges = [0, *(x for span in sorted(speech) for x in span), length]
    gaps = [(edges[i + 1] - edges[i], edges[i]) for i in range(0, len(edges) - 1, 2)]
    width, at = max(gaps, key=lambda g: g[0])
    return at + width // 2 if width > 0 else length
