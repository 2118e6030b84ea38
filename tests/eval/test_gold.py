"""The gold set is only worth something if every span is exact and every item is well formed."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from eval.gold import CATEGORIES, GOLD_PATH, GoldError, load_gold, locate, span_problems
from index.terms import fold


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


def _surname(name: str) -> str:
    return _words(name)[-1]


def test_attribution_items_name_their_speaker(gold):
    """Every attribution item has a speaker; at least one of them is asked for in both
    same-story articles (000 and 001), and the speakers are varied."""
    attribution = [i for i in gold if i.category == "attribution"]
    assert all(i.speaker for i in attribution)
    assert len({i.speaker for i in attribution}) >= 8
    both = [i for i in attribution if {e.source[:3] for e in i.evidence} >= {"000", "001"}]
    assert len(both) >= 2


def test_misattribution_items_ask_the_wrong_speaker(gold):
    """The asked speaker is named in the question and is not the true speaker."""
    items = [i for i in gold if i.category == "misattribution"]
    assert any(i.true_speaker is None for i in items) and sum(i.true_speaker is not None for i in items) >= 10
    for item in items:
        question = " ".join(_words(item.question))
        assert " ".join(_words(item.asked_speaker)) in question, item.id
        if item.true_speaker:
            assert _surname(item.asked_speaker) != _surname(item.true_speaker), item.id
            assert item.evidence, item.id
        else:
            assert not item.evidence, item.id


def test_items_round_trip_through_to_dict(gold, tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(i.to_dict(), ensure_ascii=False) + "\n" for i in gold), encoding="utf-8")
    assert load_gold(path) == gold


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
    ('{"id": "x", "category": "offtopic", "question": "q", "reference": "r", "keys": [], '
     '"evidence": [{"source": "a.txt", "start": 0, "end": 1, "text": "a"}]}', "offtopic items must have empty keys and evidence"),
    ('{"id": "x", "category": "misattribution", "question": "q", "reference": "r", "keys": [], "evidence": [], '
     '"asked_speaker": "Zelensky", "true_speaker": "Denys Shmyhal"}', "needs the true speaker's sentence"),
    ('{"id": "x", "category": "misattribution", "question": "q", "reference": "r", "keys": [], '
     '"evidence": [{"source": "a.txt", "start": 0, "end": 1, "text": "a"}], '
     '"asked_speaker": "Costa", "true_speaker": null}', "must have empty evidence"),
    ('{"id": "x", "category": "misattribution", "question": "q", "reference": "r", "keys": [], "evidence": [], '
     '"true_speaker": null}', "need field.s. asked_speaker"),
    ('{"id": "x", "category": "attribution", "question": "q", "reference": "r", "keys": [], '
     '"evidence": [{"source": "a.txt", "start": 0, "end": 1, "text": "a"}]}', "need field.s. speaker"),
    ('{"id": "x", "category": "attribution", "question": "q", "reference": "r", "keys": [], '
     '"evidence": [{"source": "a.txt", "start": 0, "end": 1, "text": "a"}], "speaker": ""}', "must be a name"),
    ('{"id": "x", "category": "figure", "question": "q", "reference": "r", "keys": ["1"], '
     '"evidence": [{"source": "a.txt", "start": 0, "end": 1, "text": "a"}], "speaker": "Merz"}', "do not belong"),
])
def test_malformed_lines_are_named(tmp_path, bad, message):
    path = tmp_path / "gold.jsonl"
    path.write_text(bad + "\n", encoding="utf-8")
    with pytest.raises(GoldError, match=message):
        load_gold(path)
