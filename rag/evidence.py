"""Choosing and scoring the sentences that may answer a question.

Candidates are the sentences inside the retrieved chunks plus the best sentences found directly.
Each gets a support score in 0..1 from three signals, all explainable (weights: `rag.tuning`):
  dense    cosine between question and sentence embeddings
  lexical  IDF-weighted share of the question's terms the sentence contains (a WordNet synonym
           of a term counts less: `rag.thesaurus`; a term in the sentence before, less still)
  kind     the sentence holds the kind of figure the question asks for (`rag.stages.read.Query.kind`)
The engine abstains when the best support is below `Settings.min_support` (or, for questions
asking for a figure, `min_support_figure`, counting only sentences that state that kind of figure).

A sentence flagged at index time as reading like instructions to an AI (`index.injection`) is
demoted: its support is multiplied by `Tuning.w_flagged`, so it sorts after every unflagged one and
never lifts the abstention gate. It stays visible (with its flags) rather than silently vanishing.

`score` returns candidates in the order a backend reads them (best support first); the engine only
folds same-story restatements into the sentence they restate (`rag.dedup`). There is no
cross-encoder second stage: no PyPI reranker ships its weights (see
`eval/reports/latest/design_choices.md`, with the measurements behind this order).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from index.aliases import general_actor, is_demonym
from index.chunking import Sentence, TextUnit
from index.search_table import Store
from index.terms import has_kind, tokenize
from rag.thesaurus import Synonym, expansions, lemmas_in
from rag.tuning import DEFAULT, Tuning
from rag.types import Citation

if TYPE_CHECKING:
    from rag.stages.read import Query

# Articles whose search terms a scorer keeps (`EvidenceScorer._article_terms`): a question's
# evidence comes from a handful of articles, and a conversation keeps returning to them.
ARTICLE_CACHE = 1024

# A sentence that names its speaker only by pronoun ("he said", "she added") or continues a quote
# belongs to the previous sentence's subject: "“2026 could be the year the war ends,” he said."
_REFERS_BACK = re.compile(
    r"\b(?:he|she|they)\s+(?:said|added|noted|stressed|warned|argued|told)\b|^[\"“](?!.*[”\"]\s*$)|^(?:He|She|They)\b"
)


def refers_back(text: str) -> bool:
    return bool(_REFERS_BACK.search(text.strip()))


@dataclass(frozen=True)
class Scored:
    unit: TextUnit
    score: float
    dense: float
    lexical: float
    kind: bool


def place_terms(names: Iterable[str]) -> set[str]:
    """The search terms of the places among a question's names ("the Paris meeting", "talks in Lima"):
    countries and capitals by general knowledge, not their demonyms ("Peruvian" names people).
    News names an occasion's place once, in its lead: a sentence later in that article ("called
    the meeting a step forward") is about the meeting in that place."""
    return {
        term
        for name in names
        for word in name.split()
        if general_actor(word) is not None and not is_demonym(word)
        for term in tokenize(word)
    }


class EvidenceScorer:
    """Scores sentences of one store against questions; IDF comes from the store's sentences."""

    def __init__(self, store: Store, tuning: Tuning = DEFAULT):
        self.store = store
        self.tuning = tuning
        # Rows, spans and flags are looked up in the table's span arrays (`SearchTable.spans`), and
        # document frequencies come from the BM25 index built at index time: tables over every
        # sentence made here made opening an index linear in its size.
        self._spans = store.sentences.spans
        df = store.sentences.document_frequencies()
        n = max(len(store.sentences), 1)
        self.vocabulary = frozenset(df)
        self._idf = {t: math.log(1 + n / c) for t, c in df.items()}
        self._unseen_idf = math.log(1 + n)
        self._article_terms = lru_cache(maxsize=ARTICLE_CACHE)(self._article_terms)  # type: ignore[method-assign]

    def idf(self, term: str) -> float:
        return self._idf.get(term, self._unseen_idf)

    def lexical(
        self,
        question_terms: list[str],
        text: str,
        synonyms: dict[str, frozenset[Synonym]] | None = None,
        before: str = "",
        met: Collection[str] = (),
        article_places: Collection[str] = (),
    ) -> float:
        """IDF-weighted share of the question's distinct terms present in `text`; a term met only
        through one of its `synonyms` (all of a synonym's words present) counts `Tuning.w_synonym`,
        one met only in the text `before` it counts `Tuning.w_context`, a place named elsewhere in its
        article (`article_places`) `Tuning.w_article_place`. Terms in `met` count as present: the
        sentence's structure says them (its speaker is the asked "French president")."""
        terms = set(question_terms)
        if not terms:
            return 0.0
        present = set(tokenize(text)) | set(met)
        synonyms = {t: alts for t, alts in (synonyms or {}).items() if t in terms and t not in present}
        lemmas = lemmas_in(text) if synonyms else frozenset()
        setting = set(tokenize(before)) if before else set()

        def credit(term: str) -> float:
            if term in present:
                return 1.0
            if any(lemmas.issuperset(alternative) for alternative in synonyms.get(term, ())):
                return self.tuning.w_synonym
            if term in setting:
                return self.tuning.w_context
            if term in article_places:
                return self.tuning.w_article_place
            return 0.0

        return sum(self.idf(t) * credit(t) for t in terms) / sum(self.idf(t) for t in terms)

    def flags_of(self, doc_id: str, start: int, end: int) -> tuple[str, ...]:
        """The flags of every flagged sentence overlapping `[start, end)` of `doc_id`, in order."""
        rows = [r for r in self._spans.overlapping(doc_id, start, end) if self._spans.flagged(r)]
        found = [f for r in rows for f in self._flags(r)]
        return tuple(dict.fromkeys(found))

    def _flags(self, row: int) -> tuple[str, ...]:
        unit = self.store.sentences.units[row]
        return unit.flags if isinstance(unit, Sentence) else ()

    def flagged(self, citation: Citation) -> Citation:
        """`citation` carrying the flags of the sentences it overlaps (a chunk, a sentence, a clause)."""
        flags = self.flags_of(citation.doc_id, citation.start, citation.end)
        return replace(citation, flags=flags) if flags != citation.flags else citation

    def sentences_in(self, chunk: TextUnit) -> list[TextUnit]:
        units = self.store.sentences.units
        return [units[r] for r in sorted(self._spans.inside(chunk.doc_id, chunk.start, chunk.end))]

    def _article_terms(self, doc_id: str) -> frozenset[str]:
        """Every search term of an article's sentences (cached per scorer: an article is read and
        tokenized once, not once per question)."""
        units = self.store.sentences.units
        return frozenset(tokenize(" ".join(units[r].text for r in sorted(self._spans.inside(doc_id, 0, sys.maxsize)))))

    def _before(self, row: int | None, unit: TextUnit, n: int | None = None) -> str:
        """The text of the `n` sentences before `unit` (at `row` of the sentence table) in its article."""
        if row is None:
            return ""
        n = self.tuning.context_sentences if n is None else n
        units = self.store.sentences.units[max(row - n, 0) : row]
        return " ".join(u.text for u in units if u.doc_id == unit.doc_id)

    def sentence_before(self, doc_id: str, start: int, end: int) -> str:
        """The sentence before the indexed sentence `[start, end)` of `doc_id` in its article ("" if none)."""
        row = self._spans.row(doc_id, start, end)
        return "" if row is None else self._before(row, self.store.sentences.units[row], 1)

    def score(
        self,
        query: Query,
        query_vector: np.ndarray,
        units: list[TextUnit],
        met: Callable[[TextUnit], Collection[str]] | None = None,
    ) -> list[Scored]:
        """Support for each unit against the question as read, best first; duplicates removed.
        `met(unit)` gives the question terms a unit's structure meets without its words (see `lexical`)."""
        terms = tokenize(query.text)
        synonyms = expansions(query.text)
        kind = query.kind
        places = place_terms(query.names)
        out: dict[tuple, Scored] = {}
        for unit in units:
            key = (unit.doc_id, unit.start, unit.end)
            if key in out:
                continue
            row = self._spans.row(*key)
            dense = float(self.store.sentences.cosines(query_vector, [row])[0]) if row is not None else 0.0
            context = unit.text
            if refers_back(unit.text) and (previous := self._before(row, unit, 1)):
                context = f"{previous} {unit.text}"
            lexical = self.lexical(
                terms,
                context,
                synonyms,
                self._before(row, unit),
                met(unit) if met else (),
                places & self._article_terms(unit.doc_id) if places else (),
            )
            kind_ok = has_kind(unit.text, kind)
            t = self.tuning
            score = t.w_dense * max(dense, 0.0) + t.w_lexical * lexical + (t.w_kind if kind_ok else 0.0)
            if row is not None and self._spans.flagged(row):
                score *= t.w_flagged
            out[key] = Scored(unit, score, dense, lexical, kind_ok)
        return sorted(out.values(), key=lambda s: (-s.score, s.unit.doc_id, s.unit.start))
