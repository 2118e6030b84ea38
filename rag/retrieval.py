"""Finding the chunks and sentences that bear on a question.

Three modes over the same store:
  dense   FAISS cosine between question and unit embeddings
  bm25    bm25s over `index.terms` tokens, which keep figures intact; every unit also carries an
          answer-type token per kind of figure it states (`<money>`, `<percent>`, `<count>`,
          `<date>`), and a question asking for that kind ("how much", "what share") adds it, so
          "How many nations...?" prefers sentences that state a count
  hybrid  `(1 - w_bm25) * cosine + w_bm25 * bm25 / bm25 bound` (`rag.tuning`), over the union of both modes'
          top candidates; the bound is the most the question's terms could score (each term's
          best score in any unit, summed), so a unit matching one common word of a long question
          gets little, where dividing by the best unit's score would give it full marks

Why a weighted score fusion rather than reciprocal-rank fusion (still available as
`fusion="rrf"`): RRF lets a weak BM25 list outvote a confident dense one. Both choices were
made on the dev questions (`eval/dev_questions.jsonl`); the measurements are in
`eval/reports/latest/design_choices.md`. The gold set is the check, not the tuning set:
`python -m eval.retrieval_quality` reports it.

Results are duplicate-aware by default: a unit that restates a better-ranked unit of a
same-story article (see `rag.dedup`) does not take a slot of its own; it rides along in the
kept hit's `corroborated_by`, and the next distinct unit moves up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Sequence

import numpy as np

from index.chunking import TextUnit
from index.embedding import Embedder
from index.search_table import SearchTable, Store
from index.store import top_rows
from index.terms import answer_type_token, asked_kind, tokenize
from rag.dedup import Stories
from rag.tuning import DEFAULT, Tuning

MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("weighted", "rrf")


__all__ = ["Hit", "Retriever", "fuse", "question_terms"]


def question_terms(question: str) -> list[str]:
    """BM25 terms of a question: its tokens plus the answer-type token of the figure it asks for."""
    return search_terms(question, asked_kind(question))


def search_terms(question: str, kind: str | None) -> list[str]:
    """BM25 terms of a question already read: its tokens plus the answer-type token of `kind`."""
    return tokenize(question) + ([answer_type_token(kind)] if kind else [])


@dataclass(frozen=True)
class Hit:
    row: int
    unit: TextUnit
    score: float  # the fused (or single-mode) score used for ranking
    dense: float  # cosine with the question, always filled in
    bm25: float
    corroborated_by: tuple[TextUnit, ...] = ()  # same-story units folded into this hit


class Retriever:
    def __init__(self, store: Store, embedder: Embedder, tuning: Tuning = DEFAULT):
        self.store = store
        self.embedder = embedder
        self.tuning = tuning

    @cached_property
    def stories(self) -> Stories:
        """Same-story articles and sentence twins, as the index persisted them."""
        return Stories.of(self.store.sentences, self.store.story_groups(), self.tuning.repeat_share)

    def table(self, name: str) -> SearchTable:
        return self.store.table(name)

    def embed_question(self, question: str) -> np.ndarray:
        return self.embedder.embed(question)

    def search(
        self,
        question: str,
        k: int,
        table: str = "chunks",
        mode: str = "hybrid",
        query_vector: np.ndarray | None = None,
        collapse_duplicates: bool = True,
        fusion: str = "weighted",
        terms: Sequence[str] | None = None,
    ) -> list[Hit]:
        """Top-`k` units of `table` for `question`, best first; `terms` are its BM25 terms when the
        question was read already (`rag.stages.read.Query`), as `query_vector` is its embedding.

        With `collapse_duplicates`, units restating a better hit from a same-story article are
        folded into that hit instead of taking a slot (see `rag.dedup`).
        """
        if mode not in MODES:
            raise ValueError(f"retrieval mode must be one of {', '.join(MODES)}, got {mode!r}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        vt = self.table(table)
        if k <= 0 or not len(vt):
            return []
        qv = self.embed_question(question) if query_vector is None else query_vector
        terms = list(question_terms(question) if terms is None else terms)
        # Collapsing removes repeats, so look deeper than k to still fill k slots.
        t = self.tuning
        depth = min(len(vt), max(k * (t.depth_collapsed if collapse_duplicates else t.depth_plain), t.min_depth))
        dense_rows = [r for r, _ in vt.dense(qv, depth)]
        bm25_rows = [r for r, _ in vt.lexical(terms, depth)]
        candidates = list(dict.fromkeys(dense_rows + bm25_rows))
        # Exact cosines for the candidates only: the scores we report, and what we fuse.
        dense = dict(zip(candidates, vt.cosines(qv, candidates).tolist()))
        bm25 = dict(zip(candidates, vt.lexical_scores(terms, candidates).tolist()))
        if mode == "dense":
            ranked = [(r, dense[r]) for r in dense_rows]
        elif mode == "bm25":
            ranked = [(r, bm25[r]) for r in bm25_rows]
        elif fusion == "rrf":
            ranked = _rrf([dense_rows, bm25_rows], self.tuning.rrf_k)
        else:
            bound = vt.lexical_bound(terms)
            fused = {r: fuse(dense[r], bm25[r], bound, self.tuning.w_bm25) for r in candidates}
            ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        hits = [Hit(r, vt.units[r], s, dense[r], bm25[r]) for r, s in ranked]
        if not collapse_duplicates:
            return hits[:k]
        kept = self.stories.collapse(hits, unit_of=lambda h: h.unit)
        return [replace(h, corroborated_by=tuple(x.unit for x in repeats)) for h, repeats in kept[:k]]


def fuse(dense: float, bm25: float, bound: float, w_bm25: float = DEFAULT.w_bm25) -> float:
    """The hybrid score: cosine and BM25 (as a share of the most the question could score), weighted."""
    return (1 - w_bm25) * dense + w_bm25 * (bm25 / bound if bound > 0 else 0.0)


def _rrf(rankings: list[list[int]], k: int) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of several best-first row lists (`Tuning.rrf_k`)."""
    fused: dict[int, float] = {}
    for rows in rankings:
        for rank, r in enumerate(rows):
            fused[r] = fused.get(r, 0.0) + 1.0 / (k + rank + 1)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest scores, best first (ties by index), without a full sort."""
    return top_rows(scores, n)
