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


def test_a_max_threshold_fails_above_and_passes_at_or_below(tmp_path):
    path = tmp_path / "thresholds.toml"
    path.write_text("[all]\ncitation_exact = 1.0\n\n[max.misattribution]\nwrong_speaker = 0.1\n", encoding="utf-8")
    thresholds = load_thresholds(path)
    held = Threshold("misattribution", "wrong_speaker", 0.1, "max")
    assert held in thresholds and Threshold("all", "citation_exact", 1.0) in thresholds

    def summary(wrong):
        return {"extractive": {"all": {"citation_exact": {"mean": 1.0, "n": 9}},
                               "misattribution": {"wrong_speaker": {"mean": wrong, "n": 12}}}}

    assert check(summary(0.1), [], thresholds) == []
    assert check(summary(0.0), [], thresholds) == []
    (failure,) = check(summary(0.25), [], thresholds)
    assert failure.threshold == held and "above its maximum 0.100" in str(failure)
    (failure,) = check(summary(None), [], thresholds)
    assert failure.value is None  # a gate that cannot measure fails, maximum or not


@pytest.mark.parametrize("text, message", [
    ("[max.misattribution]\nwrong_speaker = 2\n", "max.misattribution.wrong_speaker must be a number in 0..1"),
    ("[max]\nwrong_speaker = 0.1\n", r"\[max.wrong_speaker\] must be a table"),
    ("[max.retrieval.hybrid]\n\"recall@5\" = 0.1\n", "not supported"),
])
def test_broken_max_tables_are_named(tmp_path, text, message):
    path = tmp_path / "thresholds.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ThresholdsError, match=message):
        load_thresholds(path)
