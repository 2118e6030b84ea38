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

Measured, not assumed (`python -m eval.retrieval_quality`, and `python -m eval.dev_check` for the
extractive answers): against plain hybrid sentence retrieval this ordering wins recall@1 of the
gold evidence and loses some recall@3. We also tried adding the hybrid score of the chunk around
each sentence (`context`, weights 0.1 to 0.3): gold recall@3 rose from 84% to 90-92%, but the
extractive dev accuracy fell from 95% to 86%, because the answer is cut from the first sentence
and the abstention gate reads that sentence's support. Recall@1 is what the default backend
lives on, so the support order stays.
"""

from __future__ import annotations

from typing import Sequence

from rag.dedup import Stories
from rag.evidence import Scored


def rerank(candidates: Sequence[Scored], stories: Stories) -> list[tuple[Scored, list[Scored]]]:
    """Candidates best first by support, each with the same-story restatements folded into it."""
    ordered = sorted(candidates, key=lambda s: (-s.score, s.unit.doc_id, s.unit.start))
    return stories.collapse(ordered, unit_of=lambda s: s.unit)
