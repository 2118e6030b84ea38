"""The judge path: ragas LLM metrics -> langchain ChatLiteLLM -> litellm -> a model.

A 135M local model's scores mean nothing; what these tests pin is that the metrics really run
against a real OpenAI-compatible server on 127.0.0.1 and that replies reach the scores.
"""

from __future__ import annotations

import warnings

import pytest

from eval.judge import judge_llm, judge_metrics, litellm_model
from eval.runner import Judge, run_eval

JUDGE_METRICS = {"faithfulness", "factual_correctness(mode=f1)", "nv_accuracy"}


def test_a_bare_model_behind_a_server_is_routed_as_openai_compatible():
    assert litellm_model("smollm2", "http://127.0.0.1:8080/v1") == "openai/smollm2"
    assert litellm_model("anthropic/claude-3-5-haiku", None) == "anthropic/claude-3-5-haiku"
    assert litellm_model("openai/smollm2", "http://127.0.0.1:8080/v1") == "openai/smollm2"


@pytest.mark.parametrize("reply, expected", [("4", 1.0), ("2", 0.5), ("0", 0.0)])
def test_answer_accuracy_parses_the_judges_reply(reply, expected):
    """Prompt plumbing only: litellm's mock_response stands in for the model's reply."""
    from ragas import EvaluationDataset, evaluate
    from ragas.dataset_schema import SingleTurnSample

    llm = judge_llm("openai/any-model", "http://127.0.0.1:9/v1")
    llm.langchain_llm.model_kwargs = {"mock_response": reply}
    metric = next(m for m in judge_metrics() if m.name == "nv_accuracy")
    sample = SingleTurnSample(user_input="How much?", response="$60 billion", reference="$60 billion from partners")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = evaluate(EvaluationDataset([sample]), metrics=[metric], llm=llm, show_progress=False)
    assert result.scores[0]["nv_accuracy"] == expected


@pytest.mark.llm
def test_judge_metrics_run_against_the_local_model_server(engine, gold_items, local_extra):
    from rag.backends.local import LocalServer

    item = next(i for i in gold_items if i.id == "figure-09")
    with LocalServer() as srv:
        judge = Judge(srv.model, srv.api_base, max_tokens=128, timeout=60)
        result = run_eval(engine, [item], ["extractive"], judge=judge, retrieval_modes=(),
                          with_retrieval_quality=False)
    scores = result.runs[0].rows[0]["scores"]
    assert JUDGE_METRICS <= set(scores)
    # AnswerAccuracy takes a bare rating: even a tiny model's reply parses into a score.
    assert scores["nv_accuracy"] is not None and 0.0 <= scores["nv_accuracy"] <= 1.0
    assert result.config["judge"] == srv.model


def test_the_judge_leaves_litellm_globals_alone(monkeypatch):
    """langchain's ChatLiteLLM sets litellm.api_key / api_base module-wide on each call; ours must
    not, or a judge's key or server would reach the answer backend's calls in the same process."""
    import litellm

    from eval.judge import judge_llm

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(litellm, "api_key", None)
    monkeypatch.setattr(litellm, "api_base", None)
    chat = judge_llm("openai/judge", api_base="http://127.0.0.1:9/v1").langchain_llm
    params = chat._client_params
    assert params["api_key"] == "sk-local" and params["api_base"] == "http://127.0.0.1:9/v1"
    assert litellm.api_key is None and litellm.api_base is None
