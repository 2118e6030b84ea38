"""eval.llama_index_compare: the stand-in LLM copies the right source, and the side-by-side measures
offsets against the article files without touching the network."""

from __future__ import annotations

import json
import socket

import pytest
from llama_index.core.query_engine.citation_query_engine import CITATION_QA_TEMPLATE

from eval.gold import load_gold
from eval.llama_index_compare import SYSTEMS, CopyTopSource, run, write


def test_copy_top_source_answers_with_the_first_numbered_source():
    context = (
        "file_name: a.txt\n\nSource 1:\nThe budget is $5 billion.\n\nIt rose.\n\n\n"
        "file_name: b.txt\n\nSource 2:\nOther text.\n"
    )
    prompt = CITATION_QA_TEMPLATE.format(context_str=context, query_str="How big is the budget?")
    reply = CopyTopSource().complete(prompt).text
    # The template's worked example ("Source 1: The sky is red ...") is not taken for a source.
    assert reply == "The budget is $5 billion.\n\nIt rose. [1]"


def test_copy_top_source_without_sources_says_so():
    assert "[" not in CopyTopSource().complete("no sources here").text


@pytest.fixture
def no_network(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_side_by_side_on_a_few_gold_items(engine, corpus_dir, tmp_path, no_network):
    items = [i for i in load_gold() if i.category in ("figure", "attribution")][:4]
    table, rows = run(engine, items)
    theirs, ours = ({r["system"]: r for r in table}[s] for s in SYSTEMS)
    assert theirs["items"] == ours["items"] == len(items)
    # Ours: every citation carries offsets that slice the file exactly.
    assert ours["cited"] > 0 and ours["offsets_present"] == 1.0 and ours["citation_exact"] == 1.0
    # Theirs: whatever offsets LlamaIndex gives, every cited chunk is found in its article by text,
    # and the span found is a slice of the file.
    assert theirs["cited"] > 0 and theirs["placed_by_text"] == 1.0
    for row in rows:
        for c in row["cited"]:
            source, start, end, text = c["located"]
            assert (corpus_dir / source).read_bytes().decode("utf-8")[start:end] == text
    write(table, rows, tmp_path, {"items": len(items), "llama_index": "x", "embed_model": "m", "backend": "b"})
    saved = json.loads((tmp_path / "llama_index_compare.json").read_text(encoding="utf-8"))
    assert saved["summary"] == table
    assert "citation_exact" in (tmp_path / "llama_index_compare.md").read_text(encoding="utf-8")
