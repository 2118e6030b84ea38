"""rag as LlamaIndex components: exact-span retrieval, verified answers, and a citation checker.

LlamaIndex pipelines lose track of where text came from: citation nodes carry no offsets, or
offsets that slice other text. These components hand LlamaIndex our guarantees instead:

    RagRetriever(engine)        BaseRetriever: evidence sentences as nodes whose
                                start_char_idx/end_char_idx slice the original article exactly
    RagQueryEngine(engine)      BaseQueryEngine: `Engine.ask` as a `Response` (or a
                                `StreamingResponse`), its citations as source nodes in [n] order
    CitationVerifier(engine)    BaseEvaluator: anyone's `Response` with [n] markers, each source
                                node placed in the articles and every sentence checked by `rag.verify`
    LlamaEmbedding(embedder)    BaseEmbedding around our packaged embedder, so nothing downloads

Imported only when used (`import rag` does not import llama_index); llama-index-core is already a
dependency of rag. LlamaIndex's tokenizer and NLTK data come from the copies it bundles
(`llama_index/core/_static`), and `index.offline` keeps the hub libraries offline.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePath
from typing import Any, Generator, Sequence

import index.offline  # noqa: F401  (before any hub library is imported)

# isort: split
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.callbacks import CallbackManager
from llama_index.core.evaluation import BaseEvaluator, EvaluationResult
from llama_index.core.schema import (
    BaseNode,
    MetadataMode,
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)
from pydantic import PrivateAttr

from index.documents import Document
from index.embedding import Embedder
from index.terms import fold
from rag import spans, verify
from rag.backends.base import BackendOptions
from rag.engine import Engine
from rag.types import Answer, Citation, Evidence

# Metadata a LlamaIndex prompt shows beside a node's text; the rest (offsets, corroboration, scores)
# is kept out of prompts and embeddings, where it would only add noise.
LLM_VISIBLE_METADATA = ("source", "speaker", "published")
# The label LlamaIndex's CitationQueryEngine puts in front of each citation node's text.
_SOURCE_LABEL = re.compile(r"\ASource \d+:\n")
# Metadata keys other LlamaIndex readers use for the file a node came from.
_FILE_KEYS = ("source", "file_path", "file_name", "doc_id")

# How a source node was placed in the articles (`PlacedSource.how`).
BY_OFFSETS, BY_TEXT, UNPLACED = "offsets", "located", "unplaced"
# The longest answer `CitationVerifier` checks, in characters (`CitationVerifier.max_chars`). The
# check is linear in the answer's length (1 MB in about a second: eval/reports/latest/verify_bench.md);
# the limit keeps one request from holding a worker for minutes or its memory for gigabytes.
MAX_ANSWER_CHARS = 2_000_000


# -- nodes ------------------------------------------------------------------------------------


def citation_node(citation: Citation, score: float | None = None, **extra: Any) -> NodeWithScore:
    """A node for one exact span: its text is the slice, its offsets index the original article.

    `metadata` holds the JSON contract's citation fields (`Citation.to_dict()`: doc_id, source,
    start, end, published, corroborated_by, speaker and flags when set) except the text, plus
    `extra`; a prompt shows the source, speaker and date."""
    metadata = {k: v for k, v in citation.to_dict().items() if k != "text"} | extra
    hidden = [k for k in metadata if k not in LLM_VISIBLE_METADATA]
    node = TextNode(
        id_=citation.label,
        text=citation.text,
        start_char_idx=citation.start,
        end_char_idx=citation.end,
        metadata=metadata,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=list(metadata),
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=citation.doc_id)},
    )
    return NodeWithScore(node=node, score=score)


def evidence_node(evidence: Evidence) -> NodeWithScore:
    """An evidence sentence as a node, scored as `rag.evidence` ranks it for the question."""
    return citation_node(
        evidence.citation, evidence.score, evidence_id=evidence.id, dense=evidence.dense, lexical=evidence.lexical
    )


def answer_response(answer: Answer) -> Response:
    """An `Answer` as a LlamaIndex `Response`.

    `source_nodes[n-1]` is what "[n]" in the text refers to: the citations in order, then the
    answer card's statements (`Answer.references`). Each node's metadata adds `number`, `role`
    ("citation" or "statement"), the answer's `verified`, and the `conflicts` (texts) this span is
    a side of. `Response.metadata` is `Answer.to_dict()`, the whole JSON contract."""
    nodes = []
    for n, citation in enumerate(answer.references, 1):
        role = "citation" if n <= len(answer.citations) else "statement"
        conflicts = [c.text for c in answer.conflicts if n in (c.first.number, c.second.number)]
        nodes.append(citation_node(citation, None, number=n, role=role, verified=answer.verified, conflicts=conflicts))
    return Response(response=answer.text, source_nodes=nodes, metadata=answer.to_dict())


# -- retrieval --------------------------------------------------------------------------------


class RagRetriever(BaseRetriever):
    """Our evidence sentences for a question, best first, as LlamaIndex nodes.

    Plugs into any LlamaIndex query or chat engine (`RetrieverQueryEngine(retriever, ...)`); each
    node's offsets slice the original article, `ref_doc_id` is the article's doc_id, and its
    metadata carries `source`, `speaker` and same-story `corroborated_by` spans."""

    def __init__(
        self,
        engine: Engine,
        k: int | None = None,
        mode: str | None = None,
        top_n: int | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        self.engine, self.k, self.mode, self.top_n = engine, k, mode, top_n
        super().__init__(callback_manager=callback_manager)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        _, evidence = self.engine.evidence(query_bundle.query_str, self.k, self.mode)
        return [evidence_node(e) for e in evidence[: self.top_n]]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)


# -- answering --------------------------------------------------------------------------------


class RagQueryEngine(BaseQueryEngine):
    """`Engine.ask` behind LlamaIndex's query-engine interface: verified answers with exact citations.

    `backend` is any of our backends (extractive by default). With `streaming=True`, `query`
    returns a `StreamingResponse`: its generator yields the text as the backend writes it, and once
    it is used up `source_nodes` and `metadata` hold the checked answer's citations and JSON. An LLM
    backend streams its raw draft; when verification changed it (renumbered markers, or the
    extractive fallback), the checked answer follows the draft after a blank line, and the source
    nodes number the checked answer's markers."""

    def __init__(
        self,
        engine: Engine,
        k: int | None = None,
        backend: str | None = None,
        options: BackendOptions | None = None,
        streaming: bool = False,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        self.engine, self.k, self.backend, self.options, self.streaming = engine, k, backend, options, streaming
        super().__init__(callback_manager=callback_manager)

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}  # no prompts of LlamaIndex's: the backends own theirs

    def ask(self, question: str) -> Answer:
        return self.engine.ask(question, k=self.k, backend=self.backend, options=self.options)

    def _query(self, query_bundle: QueryBundle) -> Response | StreamingResponse:
        if self.streaming:
            return self._stream(query_bundle.query_str)
        return answer_response(self.ask(query_bundle.query_str))

    async def _aquery(self, query_bundle: QueryBundle) -> Response | StreamingResponse:
        return await asyncio.to_thread(self._query, query_bundle)

    def retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return RagRetriever(self.engine, self.k).retrieve(query_bundle)

    def _stream(self, question: str) -> StreamingResponse:
        nodes: list[NodeWithScore] = []
        metadata: dict[str, Any] = {}

        def pieces() -> Generator[str, None, None]:
            streamed = ""
            for item in self.engine.ask_stream(question, k=self.k, backend=self.backend, options=self.options):
                if isinstance(item, Answer):
                    final = answer_response(item)
                    nodes.extend(final.source_nodes)
                    metadata.update(final.metadata or {})
                    if item.text != streamed:
                        yield ("\n\n" if streamed else "") + item.text
                    return
                streamed += item
                yield item

        return StreamingResponse(response_gen=pieces(), source_nodes=nodes, metadata=metadata)


# -- verifying anyone's answer ----------------------------------------------------------------


@dataclass(frozen=True)
class PlacedSource:
    """Source node `number` placed in the articles: by its own offsets, by finding its text, or not."""

    number: int
    how: str  # BY_OFFSETS, BY_TEXT or UNPLACED
    citation: Citation | None
    # The node's own (start, end) when it had offsets that did not slice its text; None otherwise.
    offsets: tuple[int, int] | None = None

    @property
    def relocated(self) -> bool:
        """Placed by its text although it carried offsets: the pipeline's offsets are wrong."""
        return self.how == BY_TEXT and self.offsets is not None

    @property
    def problem(self) -> str:
        """What is wrong with this source, or ''."""
        if self.citation is None:
            return (
                f"source [{self.number}] is not a span of any article: its offsets do not slice its text and "
                "its text is not found"
            )
        if self.relocated and self.offsets is not None:
            start, end = self.offsets
            return (
                f"source [{self.number}]: offsets did not slice the text; placed by text at "
                f"{self.citation.start}-{self.citation.end} of {self.citation.source} (the node said {start}-{end})"
            )
        return ""

    def to_dict(self) -> dict:
        return {
            "number": self.number,
            "how": self.how,
            "citation": self.citation and self.citation.to_dict(),
            "offsets": None if self.offsets is None else list(self.offsets),
        }


@dataclass(frozen=True)
class CitationReport:
    """Per-claim results for one response, with where each source node was placed."""

    claims: tuple[verify.ClaimCheck, ...]
    problems: tuple[str, ...]
    sources: tuple[PlacedSource, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def score(self) -> float:
        """Share of claims without a problem (0 for a response with no claims)."""
        return sum(c.supported for c in self.claims) / len(self.claims) if self.claims else 0.0

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "claims": [c.to_dict() for c in self.claims],
            "sources": [s.to_dict() for s in self.sources],
        }


@lru_cache(maxsize=64)
def _folded(text: str) -> tuple[str, tuple[int, ...]]:
    """`text` folded character by character with `index.terms.fold` (white space runs to one space),
    and for each folded character the index of the original character it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        piece = " " if ch.isspace() else fold(ch)
        if piece == " " and (not out or out[-1] == " "):
            continue
        out.extend(piece)
        where.extend([i] * len(piece))
    return "".join(out), tuple(where)


def locate(doc: Document, text: str, near: int | None = None) -> Citation | None:
    """The span of `doc` that reads as `text`: an exact occurrence, else one equal under
    `index.terms.fold` (quotes, dashes, spaces); the occurrence nearest `near` when there are several.
    The result is always a slice of the article (`rag.spans.cite`)."""
    needle = text.strip()
    if not needle:
        return None
    starts = [m.start() for m in re.finditer(re.escape(needle), doc.text)]
    if starts:
        start = min(starts, key=lambda s: abs(s - near)) if near is not None else starts[0]
        return spans.cite(doc, start, start + len(needle))
    folded, where = _folded(doc.text)
    key = fold(needle)
    hits = [m.start() for m in re.finditer(re.escape(key), folded)] if key else []
    if not hits:
        return None
    pos = min(hits, key=lambda h: abs(where[h] - near)) if near is not None else hits[0]
    return spans.cite(doc, *spans.trim(doc, where[pos], where[pos + len(key) - 1] + 1))


def node_text(node: BaseNode) -> str:
    """A node's own text, without metadata and without the "Source n:\n...\n" frame CitationQueryEngine
    puts around each citation chunk."""
    text = node.get_content(metadata_mode=MetadataMode.NONE)
    framed = _SOURCE_LABEL.match(text)
    if framed is None:
        return text
    text = text[framed.end() :]
    return text[:-1] if text.endswith("\n") else text


class CitationVerifier(BaseEvaluator):
    """Checks anyone's LlamaIndex answer with `rag.verify`: figures and who said what, per sentence.

    Each source node is placed in the engine's articles: by its `start_char_idx`/`end_char_idx`
    when they slice exactly its text, else by finding its text (`locate`), else not at all (its
    markers then name no evidence). A node whose offsets are wrong but whose text is found is
    checked at the place found, and the report names the wrong offsets as a problem: the pipeline
    that made it cites the wrong span. An answer or source over `max_chars` characters is not
    checked; the report's one problem names the limit. The answer's sentences are read with their "[n]" markers
    (source node n, 1-based, as CitationQueryEngine numbers them) and checked as our own answers
    are: every figure stated in what the sentence cites, every person named as speaking a speaker
    of a cited sentence, enough shared words, no unfinished sentence.

        report = CitationVerifier(engine).check(response, query)    # per-claim results
        CitationVerifier(engine).evaluate_response(query, response)  # LlamaIndex EvaluationResult
    """

    def __init__(self, engine: Engine, max_chars: int = MAX_ANSWER_CHARS) -> None:
        self.max_chars = max_chars
        self._docs = {d.doc_id: d for d in engine.documents}
        self._speakers = verify.Speakers(engine.facts.actors, engine.facts.analysis)

    def _get_prompts(self) -> dict[str, Any]:
        return {}  # no model, no prompts: the check is rag.verify's

    def _update_prompts(self, prompts_dict: dict[str, Any]) -> None:
        pass

    def _candidates(self, node: BaseNode) -> list[Document]:
        """The article a node names (ref_doc_id, or a source/file metadata key), else every article."""
        names = [node.ref_doc_id, *(node.metadata.get(k) for k in _FILE_KEYS)]
        wanted = {str(n) for n in names if n} | {PurePath(str(n)).name for n in names if n}
        named = [d for d in self._docs.values() if {d.doc_id, d.source, PurePath(d.source).name} & wanted]
        return named or list(self._docs.values())

    def place(self, number: int, node: BaseNode) -> PlacedSource:
        text = node_text(node)
        # Only text nodes carry character offsets (a multimodal `Node` has none).
        start, end = (node.start_char_idx, node.end_char_idx) if isinstance(node, TextNode) else (None, None)
        candidates = self._candidates(node)
        for doc in candidates:
            if start is not None and end is not None and 0 <= start < end <= len(doc.text):
                if doc.text[start:end] == text:
                    return PlacedSource(number, BY_OFFSETS, spans.cite(doc, start, end))
        offsets = (start, end) if start is not None and end is not None else None
        for doc in candidates:
            found = locate(doc, text, start)
            if found is not None:
                return PlacedSource(number, BY_TEXT, found, offsets)
        return PlacedSource(number, UNPLACED, None, offsets)

    def check_text(self, text: str, nodes: Sequence[BaseNode], query: str = "") -> CitationReport:
        too_long = self._over_limit(text, nodes)
        if too_long:
            return CitationReport((), (too_long,), ())
        placed = tuple(self.place(n, node) for n, node in enumerate(nodes, 1))
        cited = {p.number: p.citation for p in placed if p.citation is not None}
        problems = [p.problem for p in placed if p.problem]
        verdict = verify.check(text, cited, self._docs, query, self._speakers)
        return CitationReport(verdict.claims, (*problems, *verdict.problems), placed)

    def _over_limit(self, text: str, nodes: Sequence[BaseNode]) -> str:
        """Why the answer or its sources are too long to check (`max_chars`), or ''."""
        sizes = [("the answer", len(text))]
        sizes += [(f"source [{n}]", len(node_text(node))) for n, node in enumerate(nodes, 1)]
        for what, size in sizes:
            if size > self.max_chars:
                return (
                    f"{what} is {size:,} characters, over CitationVerifier's limit of {self.max_chars:,} "
                    "(CitationVerifier(engine, max_chars=...)); not checked. Check it in parts or raise max_chars"
                )
        return ""

    def check(self, response: Response | StreamingResponse, query: str = "") -> CitationReport:
        """Per-claim results for a response; a streaming one is read to its end first."""
        if isinstance(response, StreamingResponse):
            response = response.get_response()
        return self.check_text(response.response or "", [s.node for s in response.source_nodes], query)

    def _result(
        self, query: str | None, text: str, report: CitationReport, contexts: Sequence[str]
    ) -> EvaluationResult:
        return EvaluationResult(
            query=query,
            response=text,
            contexts=list(contexts),
            passing=report.ok,
            score=report.score,
            feedback="; ".join(report.problems) or "every claim is supported by what it cites",
        )

    def evaluate_response(
        self, query: str | None = None, response: Response | None = None, **kwargs: Any
    ) -> EvaluationResult:
        if response is None:
            raise ValueError("CitationVerifier needs the response to check; pass response=...")
        report = self.check(response, query or "")
        contexts = [node_text(s.node) for s in response.source_nodes]
        return self._result(query, str(response.response or ""), report, contexts)

    async def aevaluate_response(
        self, query: str | None = None, response: Response | None = None, **kwargs: Any
    ) -> EvaluationResult:
        return await asyncio.to_thread(self.evaluate_response, query, response)

    async def aevaluate(
        self,
        query: str | None = None,
        response: str | None = None,
        contexts: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> EvaluationResult:
        """Plain strings: the contexts are placed by their text alone ([n] is contexts[n-1])."""
        nodes = [TextNode(text=c) for c in contexts or ()]
        report = await asyncio.to_thread(self.check_text, response or "", nodes, query or "")
        return self._result(query, response or "", report, contexts or ())


# -- embeddings -------------------------------------------------------------------------------


class LlamaEmbedding(BaseEmbedding):
    """Our embedder (the packaged MiniLM by default) as a LlamaIndex embedding model: a LlamaIndex
    index built with it uses the same vectors as rag, and nothing is downloaded."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_many(texts).tolist()


__all__ = [
    "BY_OFFSETS",
    "BY_TEXT",
    "CitationReport",
    "CitationVerifier",
    "LlamaEmbedding",
    "PlacedSource",
    "RagQueryEngine",
    "RagRetriever",
    "UNPLACED",
    "answer_response",
    "citation_node",
    "evidence_node",
    "locate",
    "node_text",
]
