"""Finding the chunks and sentences that bear on a question.

Three modes over the same store:
  dense   FAISS cosine between question and unit embeddings
  bm25    bm25s over `rag.terms` tokens, which keep figures intact; every unit also carries an
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

import bm25s
import numpy as np

from index.chunking import TextUnit
from index.embedding import Embedder
from index.search_table import SearchTable
from index.store import IndexStore, VectorTable
from rag.dedup import Stories
from rag.figures import asked_kind, kinds_in
from rag.terms import tokenize
from rag.tuning import DEFAULT, Tuning

MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("weighted", "rrf")
RRF_K = 60
MIN_DEPTH = 20  # candidates taken from each mode before fusing, at least


def answer_type_token(kind: str) -> str:
    """The pseudo-term for a kind of figure; `tokenize` never produces '<'."""
    return f"<{kind}>"


def unit_terms(text: str) -> list[str]:
    """BM25 terms of a unit: its tokens plus one answer-type token per kind of figure it states."""
    return tokenize(text) + [answer_type_token(k) for k in kinds_in(text)]


def question_terms(question: str) -> list[str]:
    """BM25 terms of a question: its tokens plus the answer-type token of the figure it asks for."""
    kind = asked_kind(question)
    return tokenize(question) + ([answer_type_token(kind)] if kind else [])


@dataclass(frozen=True)
class Hit:
    row: int
    unit: TextUnit
    score: float  # the fused (or single-mode) score used for ranking
    dense: float  # cosine with the question, always filled in
    bm25: float
    corroborated_by: tuple[TextUnit, ...] = ()  # same-story units folded into this hit


class _Lexical:
    """A BM25 index over one table's units."""

    def __init__(self, units: list[TextUnit]):
        self._model = bm25s.BM25()
        self._size = len(units)
        self._term_max: dict[str, float] = {}
        if units:
            self._model.index([unit_terms(u.text) or ["\x00"] for u in units], show_progress=False)
            # bm25s keeps every term's per-unit scores as one column of a CSC matrix.
            data, starts = self._model.scores["data"], self._model.scores["indptr"]
            ends = np.append(starts[1:], len(data))
            best = [float(data[a:b].max()) if b > a else 0.0 for a, b in zip(starts, ends)]
            self._term_max = {t: best[i] for t, i in self._model.vocab_dict.items() if i < len(best)}

    def scores(self, query_terms: list[str]) -> np.ndarray:
        if not self._size or not query_terms:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._model.get_scores(query_terms), dtype=np.float32)

    def bound(self, query_terms: list[str]) -> float:
        """The most any unit could score: each term's best score anywhere, summed (repeats count)."""
        return sum(self._term_max.get(t, 0.0) for t in query_terms)


class _FaissTable(SearchTable):
    """A FAISS `VectorTable` with its bm25s index, seen through the `SearchTable` seam."""

    def __init__(self, table: VectorTable):
        self._table = table
        self._lexical = _Lexical(table.units)

    @property
    def units(self) -> list[TextUnit]:
        return self._table.units

    def dense(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self._table.search(query, k)

    def cosines(self, query: np.ndarray, rows) -> np.ndarray:
        return (self._table.vectors[list(rows)] @ query).astype(np.float32)

    def lexical(self, terms, k: int) -> list[tuple[int, float]]:
        scores = self._lexical.scores(list(terms))
        return [(int(r), float(scores[r])) for r in _top(scores, k) if scores[r] > 0]

    def lexical_scores(self, terms, rows) -> np.ndarray:
        return self._lexical.scores(list(terms))[list(rows)]

    def lexical_bound(self, terms) -> float:
        return self._lexical.bound(list(terms))


class Retriever:
    def __init__(self, store: IndexStore, embedder: Embedder, tuning: Tuning = DEFAULT):
        self.store = store
        self.embedder = embedder
        self.tuning = tuning
        self._tables = {
            name: t if isinstance(t := store.table(name), SearchTable) else _FaissTable(t)
            for name in ("chunks", "sentences")
        }

    @cached_property
    def stories(self) -> Stories:
        """Same-story articles and sentence twins; found on first use, then kept."""
        return Stories.detect(self.store.sentences)

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
    ) -> list[Hit]:
        """Top-`k` units of `table` for `question`, best first.

        With `collapse_duplicates`, units restating a better hit from a same-story article are
        folded into that hit instead of taking a slot (see `rag.dedup`).
        """
        if mode not in MODES:
            raise ValueError(f"retrieval mode must be one of {', '.join(MODES)}, got {mode!r}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        st = self._tables[table]
        if k <= 0 or not len(st):
            return []
        qv = self.embed_question(question) if query_vector is None else query_vector
        terms = question_terms(question)
        # Collapsing removes repeats, so look deeper than k to still fill k slots.
        depth = min(len(st), max(k * (8 if collapse_duplicates else 4), MIN_DEPTH))
        dense_rows = [r for r, _ in st.dense(qv, depth)]
        bm25_rows = [r for r, _ in st.lexical(terms, depth)]
        candidates = list(dict.fromkeys(dense_rows + bm25_rows))
        # Exact cosines for the candidates only: the scores we report, and what we fuse.
        dense = dict(zip(candidates, st.cosines(qv, candidates).tolist()))
        bm25 = dict(zip(candidates, st.lexical_scores(terms, candidates).tolist()))
        if mode == "dense":
            ranked = [(r, dense[r]) for r in dense_rows]
        elif mode == "bm25":
            ranked = [(r, bm25[r]) for r in bm25_rows]
        elif fusion == "rrf":
            ranked = _rrf([dense_rows, bm25_rows])
        else:
            bound = st.lexical_bound(terms)
            fused = {r: fuse(dense[r], bm25[r], bound, self.tuning.w_bm25) for r in candidates}
            ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        hits = [Hit(r, st.units[r], s, dense[r], bm25[r]) for r, s in ranked]
        if not collapse_duplicates:
            return hits[:k]
        kept = self.stories.collapse(hits, unit_of=lambda h: h.unit)
        return [replace(h, corroborated_by=tuple(x.unit for x in repeats)) for h, repeats in kept[:k]]


def fuse(dense: float, bm25: float, bound: float, w_bm25: float = DEFAULT.w_bm25) -> float:
    """The hybrid score: cosine and BM25 (as a share of the most the question could score), weighted."""
    return (1 - w_bm25) * dense + w_bm25 * (bm25 / bound if bound > 0 else 0.0)


def _rrf(rankings: list[list[int]]) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of several best-first row lists."""
    fused: dict[int, float] = {}
    for rows in rankings:
        for rank, r in enumerate(rows):
            fused[r] = fused.get(r, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest scores, best first (ties by index), without a full sort."""
    if n >= len(scores):
        return np.argsort(-scores, kind="stable")
    kth = scores[np.argpartition(-scores, n - 1)[n - 1]]  # the n-th best score
    above = np.flatnonzero(scores > kth)
    rows = np.concatenate([above, np.flatnonzero(scores == kth)[: n - len(above)]])
    return rows[np.lexsort((rows, -scores[rows]))]
