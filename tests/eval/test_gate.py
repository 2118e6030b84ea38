"""The gate reads one thresholds file and fails on any miss, including a metric with no value."""

from __future__ import annotations

import pytest

from eval.gate import Threshold, ThresholdsError, check, load_thresholds


def test_the_committed_thresholds_load():
    thresholds = load_thresholds()
    assert Threshold("all", "citation_exact", 1.0) in thresholds
    assert any(t.scope == "retrieval.hybrid" for t in thresholds)


def test_misses_and_missing_values_fail_but_equal_passes():
    thresholds = [Threshold("figure", "string_present", 0.7), Threshold("all", "citation_exact", 1.0),
                  Threshold("answerable", "evidence_hit", 0.5), Threshold("retrieval.hybrid", "recall@5", 0.8)]
    summary = {"figure": {"string_present": {"mean": 0.69, "n": 21}},
               "all": {"citation_exact": {"mean": None, "n": 0}},
               "answerable": {"evidence_hit": {"mean": 0.5, "n": 50}}}
    retrieval = [{"mode": "hybrid", "scope": "answerable", "n": 50, "recall@5": 0.9}]
    failures = check({"extractive": summary}, retrieval, thresholds)
    assert [(f.threshold.metric, f.value) for f in failures] == [("string_present", 0.69), ("citation_exact", None)]
    assert "figure.string_present = 0.690, below its threshold 0.700" in str(failures[0])
    assert "no value" in str(failures[1])
    assert check({}, [], [Threshold("retrieval.bm25", "recall@5", 0.5)])[0].value is None


@pytest.mark.parametrize("text, message", [
    ("[all]\ncitation_exact = 1.5\n", "0..1"),
    ("[all\n", "not valid TOML"),
    ("all = 3\n", "table"),
])
def test_a_broken_thresholds_file_is_named(tmp_path, text, message):
    path = tmp_path / "thresholds.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ThresholdsError, match=message):
        load_thresholds(path)


def test_a_missing_thresholds_file_says_what_to_do(tmp_path):
    with pytest.raises(ThresholdsError, match="restore eval/thresholds.toml"):
        load_thresholds(tmp_path / "nope.toml")
