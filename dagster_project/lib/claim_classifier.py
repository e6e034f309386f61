"""Is a sentence a claim? Logistic regression on sentence embeddings, from labelled examples.

What marks show talk (intros, thanks, banter, reactions, transitions, sponsor reads) is what it
says and how, not single words: "coffee" is chatter in "I need more coffee" and news in "Coffee
prices hit a record". So a classifier reads whole sentences, as embeddings, trained on the
sentences in `training/claim_examples.yaml`: written for training from many domains and never
used to measure the pipeline (the benchmarks' labelled shows are separate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

EXAMPLES = Path(__file__).parent / "training" / "claim_examples.yaml"


def load_examples(path: Path = EXAMPLES) -> tuple[list[str], np.ndarray]:
    """(sentences, labels): 1 for a claim, 0 for show talk."""
    data = yaml.safe_load(path.read_text())
    texts = [*data["claim"], *data["not_claim"]]
    labels = np.asarray([1] * len(data["claim"]) + [0] * len(data["not_claim"]))
    return texts, labels


def examples_key(path: Path = EXAMPLES) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@dataclass
class ClaimClassifier:
    model: Any  # a fitted sklearn LogisticRegression

    @classmethod
    def fit(cls, embeddings: np.ndarray, labels: np.ndarray) -> ClaimClassifier:
        from sklearn.linear_model import LogisticRegression

        # Balanced classes and the default regularisation: no knob tuned on any evaluation.
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
        model.fit(np.asarray(embeddings, dtype=np.float64), labels)
        return cls(model)

    def probability(self, embeddings: np.ndarray) -> np.ndarray:
        """P(claim) per sentence embedding."""
        if len(embeddings) == 0:
            return np.zeros(0)
        return self.model.predict_proba(np.asarray(embeddings, dtype=np.float64))[:, 1]


def with_prior(p_balanced: np.ndarray, claim_share: float | Sequence[float]) -> np.ndarray:
    """The probability of a claim where claims make up `claim_share` of what is said.

    The classifier is trained on balanced classes, so its odds assume an even prior; Bayes'
    rule moves them to the prior of where the sentence sits (an episode's opening and closing
    sentences are mostly show talk, its body mostly claims).
    """
    p = np.clip(np.asarray(p_balanced, dtype=np.float64), 1e-6, 1 - 1e-6)
    share = np.asarray(claim_share, dtype=np.float64)
    logit = np.log(p / (1 - p)) + np.log(share / (1 - share))
    return 1 / (1 + np.exp(-logit))
