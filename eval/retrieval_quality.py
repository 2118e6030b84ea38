"""How often each retrieval variant puts the gold evidence sentence in its top k.

Variants, all run over the same engine and questions in one go:

    dense          FAISS cosine over sentences
    bm25           bm25s over sentences, `index.terms` tokens (figures kept whole) + answer-type tokens
    hybrid         weighted fusion of the two (0.7 cosine + 0.3 BM25 share, see `rag.retrieval`)
    hybrid+rerank  what `Engine.evidence` hands a backend: hybrid chunk and sentence hits,
                   rescored by `rag.evidence`, near-duplicate twins folded into one entry whose
                   corroborating spans count as retrieved at that rank
    llama-index    llama-index out of the box: `VectorStoreIndex` with default settings (its
                   default splitter, ~1024-token nodes) and the same MiniLM model; a node counts
                   when it contains the gold span, so its `avg_chars` column shows how much text
                   such a "hit" makes a reader search through

recall@k = share of answerable items (category != "unanswerable") where a unit ranked within the
top k overlaps one of the item's gold evidence spans.

    python -m eval.retrieval_quality [--gold eval/gold.jsonl] [--out eval/reports/latest]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

import index.offline  # noqa: F401  (before llama-index / sentence-transformers are imported)
from index.embedding import Embedder
from rag.spans import Range, overlaps

VARIANTS = ("dense", "bm25", "hybrid", "hybrid+rerank", "llama-index")
HERE = Path(__file__).resolve().parent
GOLD = HERE / "gold.jsonl"
DEV = HERE / "dev_questions.jsonl"
REPORT_DIR = HERE / "reports" / "latest"

Span = tuple[str, int, int]  # (source, start, end)


def load_items(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# -- the llama-index baseline -------------------------------------------------------------------


def _llama_embedding(embedder: Embedder):
    """Our packaged MiniLM as a llama-index embedding model, so the baseline downloads nothing."""
    from rag.integrations.llama_index import LlamaEmbedding

    return LlamaEmbedding(embedder)


class LlamaIndexBaseline:
    """`VectorStoreIndex.from_documents` with default settings over the engine's documents."""

    def __init__(self, engine):
        from llama_index.core import Document, Settings, VectorStoreIndex
        from llama_index.core.llms import MockLLM

        # Retrieval only: what `Settings.llm = None` does (a MockLLM), without its print to stdout,
        # so nothing ever resolves a hosted LLM.
        Settings.llm = MockLLM()
        self._docs = {d.source: d for d in engine.documents}
        documents = [Document(text=d.text, id_=d.doc_id, metadata={"file_name": d.source}) for d in engine.documents]
        self.index = VectorStoreIndex.from_documents(documents, embed_model=_llama_embedding(engine.embedder))

    def ranked(self, question: str, depth: int) -> list[list[Span]]:
        nodes = self.index.as_retriever(similarity_top_k=depth).retrieve(question)
        out = []
        for hit in nodes:
            source = hit.node.metadata.get("file_name", "")
            start, end = hit.node.start_char_idx, hit.node.end_char_idx
            if start is None or end is None:  # the splitter could not place the node: locate it
                start = self._docs[source].text.find(hit.node.get_content()) if source in self._docs else -1
                end = start + len(hit.node.get_content())
            out.append([(source, start, end)] if start >= 0 else [])
        return out


# -- ranking per variant ------------------------------------------------------------------------


def ranked_spans(
    engine, question: str, variant: str, depth: int, baseline: LlamaIndexBaseline | None = None
) -> list[list[Span]]:
    """The top `depth` retrieved units for one variant; each entry lists the spans it stands for."""
    if variant in ("dense", "bm25", "hybrid"):
        hits = engine.retriever.search(question, depth, "sentences", variant, collapse_duplicates=False)
        source = {d.doc_id: d.source for d in engine.documents}
        return [[(source[h.unit.doc_id], h.unit.start, h.unit.end)] for h in hits]
    if variant == "hybrid+rerank":
        _, evidence = engine.evidence(question, mode="hybrid")
        return [
            [(c.source, c.start, c.end) for c in (e.citation, *e.citation.corroborated_by)] for e in evidence[:depth]
        ]
    if variant == "llama-index":
        if baseline is None:
            raise ValueError("the llama-index variant needs a LlamaIndexBaseline")
        return baseline.ranked(question, depth)
    raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")


def _overlaps(span: Span, gold: dict) -> bool:
    return overlaps(Range(*span), Range(gold["source"], gold["start"], gold["end"]))


def first_hit_rank(ranked: list[list[Span]], evidence: list[dict]) -> int | None:
    """1-based rank of the first unit overlapping any gold span, or None."""
    for rank, spans in enumerate(ranked, start=1):
        if any(_overlaps(s, g) for s in spans for g in evidence):
            return rank
    return None


def compare(engine, items: list[dict], ks: Sequence[int] = (1, 3, 5)) -> list[dict]:
    """Recall@k of the gold evidence for every variant, overall ("all") and per category.

    Rows: {"variant", "category", "recall@1", "recall@3", "recall@5", "n", "avg_chars"}; `n` is the
    number of answerable items, `avg_chars` the mean length of the units ranked within max(ks).
    """
    answerable = [it for it in items if it.get("category") != "unanswerable" and it.get("evidence")]
    depth = max(ks)
    categories = ["all", *sorted({it["category"] for it in answerable})]
    baseline = LlamaIndexBaseline(engine)
    rows = []
    for variant in VARIANTS:
        ranks: list[tuple[str, int | None]] = []
        chars: list[int] = []
        for item in answerable:
            ranked = ranked_spans(engine, item["question"], variant, depth, baseline)
            ranks.append((item["category"], first_hit_rank(ranked, item["evidence"])))
            chars += [end - start for spans in ranked[:depth] for _, start, end in spans[:1]]
        for category in categories:
            mine = [r for c, r in ranks if category in ("all", c)]
            row = {"variant": variant, "category": category}
            for k in ks:
                row[f"recall@{k}"] = sum(r is not None and r <= k for r in mine) / max(len(mine), 1)
            row["n"] = len(mine)
            row["avg_chars"] = round(float(np.mean(chars)), 1) if chars else 0.0
            rows.append(row)
    return rows


def markdown_table(rows: list[dict]) -> str:
    """One table: a row per variant and category, recall columns as percentages."""
    ks = sorted(int(key.split("@")[1]) for key in rows[0] if key.startswith("recall@")) if rows else []
    head = ["variant", "category", *(f"recall@{k}" for k in ks), "n", "avg unit chars"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = {c: i for i, c in enumerate(sorted({r["category"] for r in rows} - {"all"}))}
    for r in sorted(
        rows, key=lambda r: (r["category"] != "all", order.get(r["category"], -1), VARIANTS.index(r["variant"]))
    ):
        cells = [
            r["variant"],
            r["category"],
            *(f"{r[f'recall@{k}']:.0%}" for k in ks),
            str(r.get("n", "")),
            f"{r.get('avg_chars', 0):.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=GOLD if GOLD.exists() else DEV)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--out", type=Path, default=REPORT_DIR)
    args = parser.parse_args(argv)

    from rag import Engine, Settings

    engine = Engine.open(Settings.from_env(index_dir=args.index_dir))
    rows = compare(engine, load_items(args.gold))
    table = markdown_table(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    variants = __doc__.split("Variants, all run over the same engine and questions in one go:")[1].split("recall@k =")[
        0
    ]
    text = (
        f"# Retrieval quality: recall@k of the gold evidence sentence\n\nQuestions: `{args.gold.name}` "
        f"({rows[0]['n'] if rows else 0} answerable). recall@k = share of answerable questions with a unit "
        "overlapping a gold evidence span in the top k; `avg unit chars` = mean length of what a variant "
        f"returns, i.e. how much text a reader must search.\n\n```\n{variants.strip(chr(10)).rstrip()}\n```\n\n"
        + table
        + "\n"
    )
    (args.out / "retrieval_quality.md").write_text(text, encoding="utf-8")
    (args.out / "retrieval_quality.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
