"""The gold set is only worth something if every span is exact and every item is well formed."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from eval.gold import CATEGORIES, GOLD_PATH, GoldError, load_gold, locate, span_problems
from rag.spans import fold


@pytest.fixture(scope="module")
def gold():
    return load_gold()


def test_every_evidence_span_slices_to_its_text(gold, corpus_dir):
    assert span_problems(gold, corpus_dir) == []


def test_size_and_categories(gold):
    counts = Counter(item.category for item in gold)
    assert len(gold) >= 50
    assert set(counts) == set(CATEGORIES)
    assert all(counts[c] >= 10 for c in CATEGORIES), counts


def test_evidence_is_whole_sentences(gold, corpus_dir):
    """Each span is exactly one sentence as the system splits it, so a citation can match it."""
    for item in gold:
        for ev in item.evidence:
            snippet = ev.text[: min(40, len(ev.text))]
            assert locate(corpus_dir, ev.source, ev.text) == ev, (item.id, snippet)


def test_figure_keys_are_stated_in_the_evidence(gold):
    for item in gold:
        if item.category == "figure":
            assert item.keys, item.id
        if item.keys:
            stated = " ".join(fold(e.text).lower() for e in item.evidence)
            assert any(fold(k).lower() in stated for k in item.keys), item.id


def test_multi_source_items_cite_several_articles(gold):
    for item in gold:
        if item.category == "multi_source":
            assert len({e.source for e in item.evidence}) >= 2, item.id


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", fold(text).lower())


def test_questions_paraphrase_rather_than_copy_the_article(gold, corpus_dir):
    """No question shares a run of six words with any article."""
    articles = [" ".join(_words(p.read_text(encoding="utf-8"))) for p in sorted(Path(corpus_dir).glob("*.txt"))]
    for item in gold:
        words = _words(item.question)
        for i in range(len(words) - 5):
            gram = " ".join(words[i : i + 6])
            assert not any(f" {gram} " in f" {a} " for a in articles), (item.id, gram)


def test_gold_does_not_reuse_dev_questions(gold):
    dev = Path(GOLD_PATH).with_name("dev_questions.jsonl")
    if not dev.exists():
        pytest.skip("no dev set in this checkout")
    dev_questions = {fold(json.loads(l)["question"]).lower() for l in dev.read_text(encoding="utf-8").splitlines() if l.strip()}
    assert not dev_questions & {fold(i.question).lower() for i in gold}


def test_a_shifted_offset_is_reported(gold, corpus_dir, tmp_path):
    line = next(i for i in gold if i.evidence).to_dict()
    line["evidence"][0]["start"] += 1
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    problems = span_problems(load_gold(path), corpus_dir)
    assert len(problems) == 1 and line["id"] in problems[0]


@pytest.mark.parametrize("bad, message", [
    ('{"id": "x"}', "missing field"),
    ('{"id": "x", "category": "opinion", "question": "q", "reference": "r", "keys": [], "evidence": []}', "category"),
    ('{"id": "x", "category": "unanswerable", "question": "q", "reference": "", "keys": ["1"], "evidence": []}', "empty keys"),
    ('{"id": "x", "category": "figure", "question": "q", "reference": "r", "keys": ["1"], "evidence": []}', "need a reference and evidence"),
    ("not json", "not valid JSON"),
])
def test_malformed_lines_are_named(tmp_path, bad, message):
    path = tmp_path / "gold.jsonl"
    path.write_text(bad + "\n", encoding="utf-8")
    with pytest.raises(GoldError, match=message):
        load_gold(path)
