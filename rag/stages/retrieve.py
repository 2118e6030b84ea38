"""Stage 1, retrieve: the passages for a question and the numbered, scored sentences inside them.

The chunks come from hybrid search (`rag.retrieval`); their sentences and the best sentences found
directly are scored (`rag.evidence`), a sentence restating a better one from a same-story article
is folded into it (`rag.dedup`), and the best `Tuning.max_evidence` become numbered `Evidence`.
For a follow-up, which is searched together with the previous question, only the evidence that
names one of the follow-up's own names is kept: that is its new focus.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from index.chunking import TextUnit
from index.documents import Document
from index.terms import tokenize
from rag import spans
from rag.evidence import EvidenceScorer
from rag.retrieval import Hit, Retriever
from rag.selection import SentenceFacts
from rag.stages.read import Query, Question
from rag.tuning import Tuning
from rag.types import Citation, Evidence, Passage


@dataclass(frozen=True)
class Retrieved:
    """The retrieved passages (chunks, ranked) and the evidence sentences in them, best first."""

    passages: tuple[Passage, ...]
    evidence: tuple[Evidence, ...]


class Retrieve:
    """Searches one index; built once per index generation."""

    def __init__(
        self,
        retriever: Retriever,
        scorer: EvidenceScorer,
        facts: SentenceFacts,
        documents: Mapping[str, Document],
        tuning: Tuning,
    ):
        self.retriever = retriever
        self.scorer = scorer
        self.facts = facts
        self.documents = documents
        self.tuning = tuning

    def run(self, question: Question, k: int, mode: str) -> Retrieved:
        """The evidence for a question as read; a follow-up's narrowed to its own names."""
        found = self.search(question.query, k, mode)
        if not question.follow_up:
            return found
        return Retrieved(found.passages, about(found.evidence, question.names))

    def search(self, query: Query, k: int, mode: str) -> Retrieved:
        """Retrieved passages, and the numbered, scored sentences inside them, best first. With the
        query's `ask`, a sentence its asked actor speaks meets the words naming that actor."""
        qv = self.retriever.embed_question(query.text)
        chunk_hits = self.retriever.search(query.text, k, "chunks", mode, query_vector=qv, terms=query.terms)
        passages = tuple(self.passage(h, i + 1) for i, h in enumerate(chunk_hits))
        units = [s for h in chunk_hits for s in self.scorer.sentences_in(h.unit)]
        if k > 0:
            sentence_hits = self.retriever.search(
                query.text, self.tuning.sentence_hits, "sentences", mode, query_vector=qv, terms=query.terms
            )
            units += [h.unit for h in sentence_hits]
        met = self.facts.speaker_terms(query.ask) if query.ask else None
        # Best support first; a sentence restating a better one from a same-story article is folded in.
        kept = [
            s
            for s, _ in self.retriever.stories.collapse(
                self.scorer.score(query, qv, units, met), unit_of=lambda s: s.unit
            )
        ]
        evidence = tuple(
            Evidence(
                i + 1,
                self.facts.with_speaker(self.retriever.stories.with_twins(self.citation(s.unit), self.documents)),
                s.score,
                s.dense,
                s.lexical,
            )
            for i, s in enumerate(kept[: self.tuning.max_evidence])
        )
        return Retrieved(passages, evidence)

    def chunks(self, query: Query, k: int, mode: str) -> list[Passage]:
        """The top-`k` chunks for a query with their scores."""
        hits = self.retriever.search(query.text, k, "chunks", mode, terms=query.terms)
        return [self.passage(h, i + 1) for i, h in enumerate(hits)]

    def citation(self, unit: TextUnit) -> Citation:
        return self.scorer.flagged(spans.cite(self.documents[unit.doc_id], unit.start, unit.end))

    def passage(self, hit: Hit, rank: int) -> Passage:
        """A retrieved chunk, with the same-story chunks folded into it listed as corroboration."""
        citation = replace(self.citation(hit.unit), corroborated_by=tuple(map(self.citation, hit.corroborated_by)))
        return Passage(citation, hit.score, hit.dense, hit.bm25, rank=rank)


def about(evidence: tuple[Evidence, ...], names: tuple[str, ...]) -> tuple[Evidence, ...]:
    """Keep the evidence that mentions one of `names` (a follow-up's new focus), renumbered."""
    focus = {t for name in names for t in tokenize(name)}
    if not focus:
        return evidence
    kept = [e for e in evidence if focus & set(tokenize(e.text))]
    return tuple(replace(e, id=i + 1) for i, e in enumerate(kept))
