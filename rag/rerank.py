"""The second stage: put candidate sentences in the order a backend reads them.

The issue asked for a cross-encoder reranker if a package ships its weights. None does: the
candidates on PyPI download their model from a hub at run time (flashrank, mxbai-rerank,
tinyintent) or ship a ranker whose text encoder is fetched from the hub (small-hybrid-reranker
loads `cnmoro/static-nomic-384-pten-v2` through model2vec). So the second stage is a transparent
rescoring of the first stage's candidates (the sentences of the top hybrid chunks plus the top
hybrid sentences), by the support score of `rag.evidence`, whose parts are kept per sentence:

    dense     cosine between question and sentence
    lexical   IDF-weighted share of the question's terms the sentence (or, for "he said", the
              sentence it continues) contains
    kind      the sentence states the kind of figure the question asks for

    support = 0.45 * dense + 0.45 * lexical + 0.10 * kind

Then sentences that restate a better one from a same-story article are folded into it
(`rag.dedup`), so the twin of the best sentence never takes the second slot.

Measured, not assumed (`python -m eval.retrieval_quality` for recall of the gold evidence,
`python -m eval.dev_check` for the extractive answers). On the gold set this ordering wins
recall@1 over plain hybrid sentence retrieval (74% vs 66%) and loses recall@3 (82% vs 94%), mostly
on "position" questions, whose answers share few words with the question. Alternatives tried:
  - adding the hybrid score of the chunk around each sentence (weight 0.1-0.3): gold recall@3
    90-92%, but the extractive dev accuracy fell from 95% to 86% (30-question dev set), because
    the answer is cut from the first sentence and the abstention gate reads its support;
  - keeping the best-support sentence first and boosting the rest by sentence BM25 (0.1-0.6):
    gold recall@3 up to 92%, dev recall@3 down from 94% to 91%.
The dev set (used for choices) and the gold set (used for the report) disagree on both, so the
plain support order stays: recall@1 is what the default extractive backend lives on.
"""

from __future__ import annotations

from typing import Sequence

from rag.dedup import Stories
from rag.evidence import Scored


def rerank(candidates: Sequence[Scored], stories: Stories) -> list[tuple[Scored, list[Scored]]]:
    """Candidates best first by support, each with the same-story restatements folded into it."""
    ordered = sorted(candidates, key=lambda s: (-s.score, s.unit.doc_id, s.unit.start))
    return stories.collapse(ordered, unit_of=lambda s: s.unit)
