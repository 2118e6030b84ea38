"""The recall comparison the eval report embeds: shape, worked example, llama-index baseline."""

from __future__ import annotations

import pytest

from eval import retrieval_quality as rq


def test_first_hit_rank_worked_example():
    gold = [{"source": "a.txt", "start": 100, "end": 150}]
    ranked = [[("b.txt", 100, 150)], [("a.txt", 0, 99)], [("a.txt", 0, 10), ("a.txt", 149, 200)]]
    assert rq.first_hit_rank(ranked, gold) == 3  # the third entry's corroborating span overlaps
    assert rq.first_hit_rank(ranked[:2], gold) is None


@pytest.fixture(scope="module")
def rows(engine):
    items = rq.load_items(rq.DEV)
    picked = [i for i in items if i["category"] == "figure"][:3] + [i for i in items if i["category"] == "position"][:2]
    picked += [i for i in items if i["category"] == "unanswerable"][:2]
    return rq.compare(engine, picked)


@pytest.mark.slow  # builds the llama-index baseline index
def test_compare_gives_every_variant_for_all_and_each_category(rows):
    assert {(r["variant"], r["category"]) for r in rows} == {
        (v, c) for v in rq.VARIANTS for c in ("all", "figure", "position")}
    for r in rows:
        assert {"recall@1", "recall@3", "recall@5"} <= set(r)
        assert 0.0 <= r["recall@1"] <= r["recall@3"] <= r["recall@5"] <= 1.0
        assert r["n"] == {"all": 5, "figure": 3, "position": 2}[r["category"]]  # unanswerable excluded


@pytest.mark.slow  # builds the llama-index baseline index
def test_llama_index_units_are_whole_nodes_and_sentences_are_short(rows):
    avg = {r["variant"]: r["avg_chars"] for r in rows if r["category"] == "all"}
    assert avg["llama-index"] > 5 * avg["hybrid"]


@pytest.mark.slow  # builds the llama-index baseline index
def test_markdown_table_has_a_line_per_row(rows):
    table = rq.markdown_table(rows)
    lines = table.splitlines()
    assert lines[0].startswith("| variant | category | recall@1 | recall@3 | recall@5")
    assert len(lines) == 2 + len(rows)
    assert "| llama-index | all |" in table


@pytest.mark.slow  # builds the llama-index baseline index
def test_llama_index_baseline_spans_slice_the_documents(engine):
    baseline = rq.LlamaIndexBaseline(engine)
    docs = {d.source: d for d in engine.documents}
    ranked = baseline.ranked("How many countries pledged equipment after a truce?", 3)
    assert ranked and all(spans for spans in ranked)
    for spans in ranked:
        for source, start, end in spans:
            assert 0 <= start < end <= len(docs[source].text)
