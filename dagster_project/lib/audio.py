"""Audio files: is it audio, and how long is it."""

from __future__ import annotations

from pathlib import Path


class AudioError(ValueError):
    pass


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
