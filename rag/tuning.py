"""Every ranking weight and cut-off in one frozen, named value, so eval can sweep them.

`DEFAULT` is what the engine uses; an experiment builds a variant with
`dataclasses.replace(DEFAULT, w_bm25=0.4)` and passes it to `Engine(..., tuning=...)` (or to
`Retriever`/`EvidenceScorer` directly). Why each value is what it is: the comments below, and the
measurements in `eval/reports/latest/design_choices.md`. The abstention thresholds
(`Settings.min_support`, `min_support_figure`) stay in `Settings`: users set them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tuning:
    # Support of an evidence sentence (`rag.evidence`): dense cosine, lexical overlap, and whether it
    # states the kind of figure asked for.
    w_dense: float = 0.45
    w_lexical: float = 0.45
    w_kind: float = 0.10
    # What a question term is worth when the sentence has only a WordNet synonym of it ("truce" met
    # by "ceasefire"): a synonym may be meant in another sense, so it counts for less than the word.
    w_synonym: float = 0.5
    # What a question term is worth when it is not in the sentence but in the `context_sentences`
    # before it in the same article: news states the setting ("in Paris on Sunday") once.
    w_context: float = 0.25
    context_sentences: int = 1
    # What a place named in the question is worth when the sentence's article names it elsewhere
    # ("the Paris meeting" met by "called the meeting ..." in an article about the meeting in
    # Paris): less than the sentences just before it, which may set a nearer scene.
    w_article_place: float = 0.125
    # Hybrid retrieval (`rag.retrieval.fuse`): weight of BM25 (as a share of the most the question
    # could score) against the cosine.
    w_bm25: float = 0.3
    # The extractive answer (`rag.backends.extractive`): a clause must keep this share of the
    # sentence's matched question terms. 0.9 (was 0.8) keeps "..., which could include troops"
    # for "What did X say the contribution could include?" (dev-94); 0.9 and 1.0 give the same dev
    # and gold answers, and no gold answer changes from 0.8.
    keep_share: float = 0.9
    # The engine's evidence (`Engine.evidence`): sentences found directly, besides those inside the
    # retrieved chunks, and how many scored sentences a backend is shown at most.
    sentence_hits: int = 8
    max_evidence: int = 12
    # Passages shown with a refusal, labelled "closest passages, not an answer": enough to say where
    # to read on, few enough that a refusal does not read like an answer.
    closest: int = 3


DEFAULT = Tuning()

__all__ = ["DEFAULT", "Tuning"]
