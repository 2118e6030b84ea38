"""Retrieval variants side by side: dense only, BM25 only and hybrid, by recall@k over gold evidence.

Uses only `Engine.retrieve(question, k, mode)`, the chunks a backend is given. For one item:

    recall@k = share of its gold evidence sentences that a top-k chunk overlaps
    hit@k    = 1 if any of them is overlapped

averaged over answerable items, per category and overall ("answerable").

A chunk covers what it overlaps and what its same-story corroboration overlaps: collapsing a
near-duplicate article's restatement into the better chunk (`rag.dedup`) is the design, so the
twin's sentence is retrieved, as corroboration, not lost. Every mode is counted the same way.
"""

from __future__ import annotations

from typing import Sequence

from eval.gold import GoldItem
from rag.spans import overlaps

MODES = ("dense", "bm25", "hybrid")
KS = (1, 3, 5)


def _covered(passages, evidence) -> list[bool]:
    spans = [c for p in passages for c in (p.citation, *p.citation.corroborated_by)]
    return [any(overlaps(c, e) for c in spans) for e in evidence]


def retrieval_recall(
    engine, items: Sequence[GoldItem], modes: Sequence[str] = MODES, ks: Sequence[int] = KS
) -> list[dict]:
    """Rows `{"mode", "scope", "n", "recall@k"..., "hit@k"...}` for every mode and scope."""
    answerable = [i for i in items if i.answerable]
    depth = max(ks)
    rows = []
    for mode in modes:
        per_item: list[tuple[str, dict[str, float]]] = []
        for item in answerable:
            passages = engine.retrieve(item.question, depth, mode)
            scores = {}
            for k in ks:
                covered = _covered(passages[:k], item.evidence)
                scores[f"recall@{k}"] = sum(covered) / len(covered)
                scores[f"hit@{k}"] = float(any(covered))
            per_item.append((item.category, scores))
        scopes = sorted({c for c, _ in per_item}) + ["answerable"]
        for scope in scopes:
            chosen = [s for c, s in per_item if scope in ("answerable", c)]
            row = {"mode": mode, "scope": scope, "n": len(chosen)}
            for name in chosen[0] if chosen else ():
                row[name] = sum(s[name] for s in chosen) / len(chosen)
            rows.append(row)
    return rows
