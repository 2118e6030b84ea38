"""Every ranking weight and cut-off in one frozen, named value, so eval can sweep them.

`DEFAULT` is what the engine uses; an experiment builds a variant with
`dataclasses.replace(DEFAULT, w_bm25=0.4)` and passes it to `Engine(..., tuning=...)` (or to
`Retriever`/`EvidenceScorer` directly). Why each value is what it is: the comments below, and the
measurements in `eval/reports/latest/design_choices.md`. The engine hands its tuning to every
stage (`rag.stages`) and each passes on the fields its helpers use.

Not here, on purpose: the abstention thresholds (`Settings.min_support`, `min_support_figure`,
`min_support_confirmed`) stay in `Settings`, because users set them; the reader's fitted weights
are data, with the script that fits them (`rag/reader_weights.json`, `eval/fit_reader.py`);
thresholds fixed at index time (`index.stories.SENTENCE_MATCH`) belong to the index, which imports
nothing of ours and whose stored groups a change would not reach without a rebuild; and limits
that bound work rather than choose answers (cache sizes, retry counts, time budgets, the longest
question) stay beside the code they bound.
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
    # How deep each mode (dense, BM25) looks before fusing: `depth_collapsed` candidates per slot
    # asked for when same-story repeats are folded away (each fold frees a slot to refill), else
    # `depth_plain`, and never fewer than `min_depth`, so a small k still sees both modes' strong
    # candidates. Deeper costs time and changed no dev answer.
    depth_collapsed: int = 8
    depth_plain: int = 4
    min_depth: int = 20
    # Reciprocal-rank fusion (`fusion="rrf"`, the measured alternative): the usual constant of
    # Cormack et al. (2009), which damps the head of each ranking.
    rrf_k: int = 60
    # Same-story folding (`rag.dedup.Stories.repeats`): a unit from another article of the story
    # repeats a kept one when this share of its sentences have a twin inside it. Half: a chunk that
    # retells the kept one with a few sentences of its own is still a retelling.
    repeat_share: float = 0.5
    # Support of a flagged sentence (it addresses an AI: "ignore previous instructions ..."), as a
    # share of what its words would earn (`rag.evidence`). Zero: quoted material may never lead.
    w_flagged: float = 0.0
    # The engine's evidence (`Engine.evidence`): sentences found directly, besides those inside the
    # retrieved chunks, and how many scored sentences a backend is shown at most.
    sentence_hits: int = 8
    max_evidence: int = 12
    # A "latest" question (`rag.recency.newest_first`): how far below the best evidence score a newer
    # dated sentence may be and still lead; beyond it a newer sentence only brushes the topic.
    recency_margin: float = 0.15
    # Verification (`rag.verify.check_claim`): the share of an answer sentence's words that must be in
    # what it cites. Low: a sentence may rephrase; a sentence citing unrelated text shares almost none.
    min_word_share: float = 0.25
    # The answer card (`rag.agreement.card`): other sources' statements shown at most; the evidence
    # score a sentence needs to be shown as adding to the answer (lower adds loosely related
    # sentences); the relative gap under which approximate figures ("around 30") do not conflict.
    max_statements: int = 3
    adds_min_score: float = 0.55
    approx_tolerance: float = 0.25
    # Passages shown with a refusal, labelled "closest passages, not an answer": enough to say where
    # to read on, few enough that a refusal does not read like an answer.
    closest: int = 3


DEFAULT = Tuning()

__all__ = ["DEFAULT", "Tuning"]
