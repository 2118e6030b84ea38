"""The `litellm` backend: any model litellm can call writes the answer from numbered evidence.

    rag ask --backend litellm --model openai/gpt-4o-mini "..."
    rag ask --backend litellm --model openai/smollm2 --api-base http://127.0.0.1:8080/v1 "..."

The model only chooses words and evidence ids (see `rag.backends.prompting`); the engine maps ids to
exact spans and `rag.verify` checks every figure afterwards, so nothing here is trusted.
Provider failures become one `BackendError` that names the backend and the setting to fix.
Transient failures (connection refused while a server starts, rate limits, 5xx) are retried
with exponential backoff, up to `retries` times; a stream is retried only before its first
token, so a reader never sees text twice. Every request, pause and retry of one question draws
on one `Deadline` (`RAG_TIMEOUT`, 30 s by default); when it runs out, `BackendTimeout`.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Iterator, Sequence

import index.offline  # noqa: F401  (litellm must not fetch its cost map: set before importing it)
from rag.backends.base import (
    DEFAULT_MAX_EVIDENCE,
    DEFAULT_MAX_TOKENS,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    Backend,
    BackendOptions,
    Deadline,
    Draft,
)
from rag.backends.prompting import build_messages, citation_grammar, repair_messages
from rag.errors import BackendError, BackendTimeout
from rag.markers import parse_reply
from rag.types import Evidence

BACKOFF_S = 0.5  # first pause between retries; doubles each time

__all__ = ["LiteLLMBackend"]


def _litellm():
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback" banners on our stderr
    litellm.telemetry = False
    return litellm


class LiteLLMBackend(Backend):
    """Grounded answers from `model` (a litellm model string), optionally at `api_base`."""

    name = "litellm"
    can_stream = True
    can_repair = True
    needs_model = True

    def __init__(
        self,
        model: str | None,
        api_base: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_evidence: int = DEFAULT_MAX_EVIDENCE,
        name: str = "litellm",
        api_key: str | None = None,
        grammar: bool = False,
        completion_kwargs: dict | None = None,
    ):
        if not model or not model.strip():
            raise BackendError(
                f"the {name} backend needs a model: pass --model (or set RAG_MODEL), "
                "e.g. --model openai/gpt-4o-mini, or --model openai/<name> --api-base http://127.0.0.1:PORT/v1"
            )
        self.model, self.api_base, self.name = model.strip(), api_base, name
        self.timeout, self.retries, self.max_tokens = timeout, max(retries, 0), max_tokens
        self.max_evidence = max(max_evidence, 1)
        self.api_key = api_key
        # llama.cpp servers accept a GBNF grammar that keeps the reply in our citation format;
        # other providers would reject the field, so it is only sent when asked for.
        self.grammar = grammar
        self.completion_kwargs = dict(completion_kwargs or {})

    @classmethod
    def create(cls, options: BackendOptions) -> "LiteLLMBackend":
        return cls(
            options.model,
            options.api_base,
            timeout=options.timeout,
            retries=options.retries,
            max_tokens=options.max_tokens,
            max_evidence=options.llm_evidence,
        )

    # -- the Backend interface ---------------------------------------------------------------

    def open(self) -> None:
        self._check_keys()

    def draft(self, question: str, evidence: Sequence[Evidence], *, deadline: Deadline | None = None) -> Draft:
        evidence = evidence[: self.max_evidence]
        reply = self._complete(build_messages(question, evidence), evidence, deadline or Deadline(self.timeout))
        return self._draft(reply, evidence)

    def repair(
        self,
        question: str,
        evidence: Sequence[Evidence],
        previous: Draft,
        problems: Sequence[str],
        *,
        deadline: Deadline | None = None,
    ) -> Draft:
        """One more try, told exactly what verification rejected."""
        evidence = evidence[: self.max_evidence]
        messages = repair_messages(question, evidence, previous.text, problems)
        return self._draft(self._complete(messages, evidence, deadline or Deadline(self.timeout)), evidence)

    def draft_stream(
        self, question: str, evidence: Sequence[Evidence], *, deadline: Deadline | None = None
    ) -> Iterator[str | Draft]:
        """Text pieces as the model writes them (raw, with its own markers), then the `Draft`."""
        evidence = evidence[: self.max_evidence]
        pieces: list[str] = []
        for piece in self._stream(build_messages(question, evidence), evidence, deadline or Deadline(self.timeout)):
            pieces.append(piece)
            yield piece
        yield self._draft("".join(pieces), evidence)

    # -- talking to the model ----------------------------------------------------------------

    def _draft(self, raw: str, evidence: Sequence[Evidence]) -> Draft:
        reply = parse_reply(raw, {e.id for e in evidence})
        return Draft(reply.text, reply.ids)

    def _kwargs(self, messages: list[dict], evidence: Sequence[Evidence] = ()) -> dict:
        kwargs = dict(
            model=self.model,
            messages=messages,
            timeout=self.timeout,
            temperature=0.0,
            max_tokens=self.max_tokens,
            max_retries=0,
        )  # we retry ourselves, with backoff
        if self.grammar and evidence:
            kwargs["extra_body"] = {"grammar": citation_grammar([e.id for e in evidence])}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        elif self.api_base and self.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
            # A self-hosted OpenAI-compatible server often needs no key, but the OpenAI client
            # insists on one; a server that does want one answers 401, reported as a key problem.
            kwargs["api_key"] = "no-key-needed"
        kwargs.update(self.completion_kwargs)
        return kwargs

    def _check_keys(self) -> None:
        """Fail before any request when a hosted provider's key is missing (litellm knows which).

        With --api-base the server decides: self-hosted ones rarely need a key."""
        if self.api_key or self.api_base or "mock_response" in self.completion_kwargs:
            return
        try:
            missing = _litellm().validate_environment(self.model, api_base=self.api_base).get("missing_keys", [])
        except Exception:  # unknown model strings are reported by the call itself
            return
        keys = [k for k in missing if k.endswith(("_KEY", "_TOKEN"))]
        if keys:
            raise BackendError(
                f"the {self.name} backend cannot call {self.model}: no API key; set {' or '.join(keys)} "
                f"in the environment, or point --api-base (RAG_API_BASE) at a server that needs none"
            )

    def _request(self, messages: list[dict], evidence: Sequence[Evidence], deadline: Deadline, **extra):
        """One litellm call, given what is left of the question's budget (never more than `timeout`)."""
        kwargs = self._kwargs(messages, evidence)
        kwargs["timeout"] = min(kwargs["timeout"], deadline.remaining())
        return _litellm().completion(**kwargs, **extra)

    def _complete(self, messages: list[dict], evidence: Sequence[Evidence], deadline: Deadline) -> str:
        self.open()
        response = self._retrying(lambda: self._request(messages, evidence, deadline), deadline)
        return response.choices[0].message.content or ""

    def _stream(self, messages: list[dict], evidence: Sequence[Evidence], deadline: Deadline) -> Iterator[str]:
        self.open()
        stream = self._retrying(lambda: self._request(messages, evidence, deadline, stream=True), deadline)
        try:
            for chunk in stream:
                piece = chunk.choices[0].delta.content if chunk.choices else None
                if piece:
                    yield piece
                if deadline.expired:  # a server that trickles tokens is held to the budget too
                    raise self._out_of_time(deadline, 1)
        except BackendError:
            raise
        except Exception as exc:  # a stream that breaks midway is not retried: text was shown
            raise self._error(exc, 1, deadline) from exc

    def _retrying(self, call: Callable, deadline: Deadline):
        delay = BACKOFF_S
        for attempt in range(self.retries + 1):
            if deadline.expired:
                raise self._out_of_time(deadline, attempt)
            try:
                return call()
            except Exception as exc:
                if not _transient(exc) or attempt == self.retries or deadline.remaining() <= delay:
                    raise self._error(exc, attempt + 1, deadline) from exc
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _out_of_time(self, deadline: Deadline, attempts: int) -> BackendTimeout:
        return BackendTimeout(
            f"{self._what()} gave no complete reply within this question's {deadline.budget_s:g} s "
            f"budget ({attempts} attempt(s)); raise RAG_TIMEOUT or check the server"
        )

    def _what(self) -> str:
        where = f" at {self.api_base}" if self.api_base else ""
        return f"the {self.name} backend ({self.model}{where})"

    def _error(self, exc: Exception, attempts: int, deadline: Deadline | None = None) -> BackendError:
        """One message naming the backend, what failed and the setting that fixes it."""
        lite = _litellm()
        text = str(exc)
        what = self._what()
        if isinstance(exc, lite.AuthenticationError) or "Missing credentials" in text:
            return BackendError(
                f"{what} was refused: missing or wrong API key; set the provider's key "
                f"variable (e.g. OPENAI_API_KEY) and try again",
                status=_status(exc),
            )
        if isinstance(exc, lite.Timeout) or "timed out" in text.lower():
            return self._out_of_time(deadline or Deadline(self.timeout), attempts)
        if _unreachable(exc):
            fix = (
                "start the server or fix --api-base (RAG_API_BASE)"
                if self.api_base
                else "check the network, or set --api-base (RAG_API_BASE) to a server you can reach"
            )
            return BackendError(f"{what} is unreachable (connection failed, {attempts} attempt(s)); {fix}")
        if isinstance(exc, lite.NotFoundError):
            return BackendError(
                f"{what}: model not found ({_short(text)}); fix --model (RAG_MODEL)", status=_status(exc)
            )
        if "LLM Provider NOT provided" in text:
            return BackendError(
                f"{what}: litellm does not know the provider in {self.model!r}; use a model string "
                "such as openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest or ollama/llama3.1 "
                "(--model, RAG_MODEL)"
            )
        return BackendError(f"{what} failed: {_short(text)} ({attempts} attempt(s))", status=_status(exc))


def _status(exc: Exception) -> int | None:
    """The HTTP status a model server answered with (litellm's errors are openai's status errors)."""
    import openai

    return exc.status_code if isinstance(exc, openai.APIStatusError) else None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split()).replace("litellm.", "")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unreachable(exc: Exception) -> bool:
    lite = _litellm()
    text = str(exc).lower()
    return isinstance(exc, lite.APIConnectionError) or "connection error" in text or "connection refused" in text


def _transient(exc: Exception) -> bool:
    lite = _litellm()
    if isinstance(
        exc, (lite.AuthenticationError, lite.NotFoundError, lite.BadRequestError)
    ) or "Missing credentials" in str(exc):
        return False
    return _unreachable(exc) or isinstance(
        exc, (lite.Timeout, lite.RateLimitError, lite.ServiceUnavailableError, lite.InternalServerError)
    )
