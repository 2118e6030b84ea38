"""Chunk recall counts a same-story chunk folded in as corroboration, and nothing else extra."""

from __future__ import annotations

from types import SimpleNamespace

from eval.gold import GoldItem, GoldSpan
from eval.recall import retrieval_recall
from rag.types import Citation

TEXT = "Alpha said one thing. Beta said another thing. Gamma said a third thing."


def _cite(source: str, start: int, end: int, twins=()) -> Citation:
    return Citation(source.removesuffix(".txt"), source, start, end, TEXT[start:end], corroborated_by=tuple(twins))


class _Engine:
    """Returns fixed passages, as `Engine.retrieve` would, whatever the question."""

    def __init__(self, passages):
        self.passages = passages

    def retrieve(self, question, k, mode):
        return self.passages[:k]


def _item(*spans: GoldSpan) -> GoldItem:
    return GoldItem("t-1", "figure", "q?", "ref", (), spans)


def test_evidence_in_a_folded_twin_counts_and_evidence_elsewhere_does_not():
    in_twin = GoldSpan("b.txt", 22, 46, TEXT[22:46])
    missed = GoldSpan("c.txt", 47, 72, TEXT[47:72])
    kept = _cite("a.txt", 0, 21, twins=[_cite("b.txt", 22, 46)])
    engine = _Engine([SimpleNamespace(citation=kept)])

    rows = retrieval_recall(engine, [_item(in_twin, missed)], modes=("hybrid",), ks=(1,))
    row = next(r for r in rows if r["scope"] == "answerable")
    assert row["recall@1"] == 0.5  # the twin's sentence, not the unrelated one
    assert row["hit@1"] == 1.0


def test_a_passage_without_twins_covers_only_itself():
    engine = _Engine([SimpleNamespace(citation=_cite("a.txt", 0, 21))])
    rows = retrieval_recall(engine, [_item(GoldSpan("b.txt", 22, 46, TEXT[22:46]))], modes=("dense",), ks=(1,))
    assert next(r for r in rows if r["scope"] == "answerable")["hit@1"] == 0.0
