"""The judge model for Ragas' LLM metrics, reached through litellm (any provider, or any
OpenAI-compatible server via `api_base`).

Ragas' classic metrics (Faithfulness, FactualCorrectness, AnswerAccuracy) call
`agenerate_text` on a `BaseRagasLLM`; langchain's `ChatLiteLLM` wrapped in ragas'
`LangchainLLMWrapper` is that, backed by litellm. Only built when `--judge` is given, so the
non-LLM suite never imports a client or needs a key.
"""

from __future__ import annotations

import os
import warnings

import index.offline  # noqa: F401  (litellm's cost map and telemetry stay local)

JUDGE_UNANSWERABLE_REFERENCE = "The articles do not answer this question; the right response is to say so."


def litellm_model(model: str, api_base: str | None) -> str:
    """A bare model name behind an `api_base` is an OpenAI-compatible server: litellm wants `openai/`."""
    return model if "/" in model or not api_base else f"openai/{model}"


# litellm's module-wide settings that langchain's ChatLiteLLM overwrites on every call.
_LITELLM_GLOBALS = (
    "api_base",
    "api_key",
    "openai_key",
    "azure_key",
    "anthropic_key",
    "replicate_key",
    "cohere_key",
    "openrouter_key",
    "organization",
)


def _isolated_chat_class():
    from langchain_community.chat_models import ChatLiteLLM

    class IsolatedChatLiteLLM(ChatLiteLLM):
        """ChatLiteLLM sets litellm's module-wide api_base and keys on every call, so the judge's key
        and server would leak into the answer backend's calls in the same process (and the operator's
        key into a judge). Here they travel with each call and the globals are put back."""

        @property
        def _client_params(self) -> dict:
            import litellm

            saved = {name: getattr(litellm, name, None) for name in _LITELLM_GLOBALS}
            try:
                params = super()._client_params
            finally:
                for name, value in saved.items():
                    setattr(litellm, name, value)
            key = self.api_key or self.openai_api_key
            if key:
                params["api_key"] = key
            return params

    return IsolatedChatLiteLLM


def judge_llm(model: str, api_base: str | None = None, timeout: float = 120.0, max_tokens: int = 1024):
    """A ragas LLM that sends every judge prompt through litellm to `model`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.llms import LangchainLLMWrapper

        _IsolatedChatLiteLLM = _isolated_chat_class()

    kwargs = {}
    if api_base:
        kwargs["api_base"] = api_base
        # A local OpenAI-compatible server takes any key; litellm refuses to send none.
        if not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "sk-local"
    with warnings.catch_warnings():
        # langchain flags ChatLiteLLM as moving to the langchain-litellm package; same class.
        warnings.simplefilter("ignore")
        chat = _IsolatedChatLiteLLM(
            model=litellm_model(model, api_base),
            temperature=0.0,
            max_tokens=max_tokens,
            request_timeout=timeout,
            max_retries=1,
            **kwargs,
        )
        return LangchainLLMWrapper(chat)


def judge_metrics() -> list:
    """Ragas' LLM-judged metrics: is the answer supported by the contexts, and is it right."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.metrics import AnswerAccuracy, FactualCorrectness, Faithfulness

    return [Faithfulness(), FactualCorrectness(), AnswerAccuracy()]
