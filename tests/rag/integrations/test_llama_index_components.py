"""rag.integrations.llama_index inside real LlamaIndex pipelines: offsets that slice the article
files, the same citations as Engine.ask, and the citation check on hand-built LlamaIndex answers."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode

from eval.gold import load_gold
from rag.integrations.llama_index import (
    BY_OFFSETS,
    BY_TEXT,
    UNPLACED,
    CitationVerifier,
    RagQueryEngine,
    RagRetriever,
    answer_response,
)
from rag.spans import cite
from rag.types import Conflict, Side, Statement

PAY = "How much must partners pay for Ukraine's defence in 2026?"
# The defence minister's sentence (000_...: "The remaining $60 billion must come from our partners," Shmyhal said, ...).
SHMYHAL_SOURCE = "000_75e6e878609b9bfe.txt"
SHMYHAL_SNIPPET = "The remaining $60 billion must come from our partners"


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection (tokenizer or model downloads) fails the test."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def article(corpus_dir: Path, source: str) -> str:
    return (corpus_dir / source).read_bytes().decode("utf-8")


def slices_file(corpus_dir: Path, node) -> bool:
    text = article(corpus_dir, node.metadata["source"])
    return text[node.start_char_idx : node.end_char_idx] == node.get_content(metadata_mode=MetadataMode.NONE)


# -- RagRetriever --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [PAY, "What did Pedro Sánchez say about the war?", "Which countries will set up military hubs in Ukraine?"],
)
def test_retriever_query_engine_source_nodes_slice_the_articles(engine, corpus_dir, no_network, question):
    query_engine = RetrieverQueryEngine.from_args(RagRetriever(engine), llm=MockLLM())
    response = query_engine.query(question)
    nodes = response.source_nodes
    assert nodes, "the retriever gave LlamaIndex no nodes"
    for hit in nodes:
        node = hit.node
        assert slices_file(corpus_dir, node), f"{node.metadata['source']}:{node.start_char_idx} does not slice"
        assert node.ref_doc_id == node.metadata["doc_id"]
        assert (node.metadata["start"], node.metadata["end"]) == (node.start_char_idx, node.end_char_idx)
        for twin in node.metadata["corroborated_by"]:  # same-story spans slice their own article too
            assert article(corpus_dir, twin["source"])[twin["start"] : twin["end"]] == twin["text"]
    # MockLLM echoes its prompt: LlamaIndex put our node texts in front of the model.
    assert nodes[0].node.get_content(metadata_mode=MetadataMode.NONE) in str(response)
    scores = [h.score for h in nodes]
    assert scores == sorted(scores, reverse=True)


def test_retriever_metadata_carries_speaker_and_corroboration(engine):
    nodes = RagRetriever(engine).retrieve(PAY)
    top = nodes[0].node
    assert top.metadata["speaker"]  # the minister's sentence names its speaker
    assert top.metadata["corroborated_by"], "the same sentence in the other article is corroboration"
    # Offsets and scores stay out of prompts; source and speaker are shown.
    shown = top.get_content(metadata_mode=MetadataMode.LLM)
    assert top.metadata["speaker"] in shown and "start:" not in shown and "corroborated_by" not in shown


def test_retriever_top_n_and_async(engine):
    nodes = asyncio.run(RagRetriever(engine, top_n=2).aretrieve(PAY))
    assert len(nodes) == 2


# -- RagQueryEngine ------------------------------------------------------------------------------


def citation_fields(node) -> tuple:
    m = node.metadata
    return (m["doc_id"], m["source"], m["start"], m["end"], node.get_content(metadata_mode=MetadataMode.NONE))


def assert_same_citations_as_engine_ask(engine, query_engine: RagQueryEngine, item) -> None:
    answer = engine.ask(item.question)
    response = query_engine.query(item.question)
    assert isinstance(response, Response)
    assert response.response == answer.text, item.id
    cited = [h.node for h in response.source_nodes if h.node.metadata["role"] == "citation"]
    assert [citation_fields(n) for n in cited] == [
        (c.doc_id, c.source, c.start, c.end, c.text) for c in answer.citations
    ], item.id
    assert [h.node.metadata["number"] for h in response.source_nodes] == list(range(1, len(response.source_nodes) + 1))
    assert response.metadata["verified"] == answer.verified
    assert response.metadata["conflicts"] == [c.to_dict() for c in answer.conflicts]
    for node, citation in zip(cited, answer.citations):
        assert node.metadata["verified"] == answer.verified
        assert node.metadata.get("speaker") == citation.speaker


def test_query_engine_gives_the_same_citations_as_engine_ask_on_one_gold_question_per_category(engine):
    """The quick loop's cut of the sweep below: the first gold question of each category."""
    firsts = {}
    for item in load_gold():
        firsts.setdefault(item.category, item)
    assert len(firsts) >= 5
    query_engine = RagQueryEngine(engine)
    for item in firsts.values():
        assert_same_citations_as_engine_ask(engine, query_engine, item)


@pytest.mark.eval_gate  # answers every gold question twice; the test above checks the same on one per category
def test_query_engine_gives_the_same_citations_as_engine_ask_on_every_gold_question(engine):
    query_engine = RagQueryEngine(engine)
    items = load_gold()
    assert len(items) > 50
    for item in items:
        assert_same_citations_as_engine_ask(engine, query_engine, item)


def test_answer_response_numbers_statements_and_names_conflicts(engine):
    """A conflict's sides are source nodes [n]; each side's node lists the conflict's text."""
    answer = engine.ask(PAY)
    first = answer.citations[0]
    doc = engine.document(first.doc_id)
    other = cite(doc, *spans_of(doc, "0.25%"))
    statement = Statement("someone", None, "conflicts", other)
    conflict = Conflict("share", "partners", "2026", Side("A", "$60 billion", 1, first), Side("B", "0.25%", 2, other))
    response = answer_response(replace(answer, statements=(statement,), conflicts=(conflict,)))
    roles = [h.node.metadata["role"] for h in response.source_nodes]
    assert roles == ["citation"] * len(answer.citations) + ["statement"]
    for side in (conflict.first, conflict.second):
        node = response.source_nodes[side.number - 1].node
        assert node.metadata["conflicts"] == [conflict.text]
        assert (node.start_char_idx, node.end_char_idx) == (side.citation.start, side.citation.end)
    assert response.metadata["conflicts"] == [conflict.to_dict()]


def spans_of(doc, snippet: str) -> tuple[int, int]:
    at = doc.text.index(snippet)
    return at, at + len(snippet)


def test_streaming_response_keeps_the_citations(engine, corpus_dir):
    plain = RagQueryEngine(engine).query(PAY)
    streaming = RagQueryEngine(engine, streaming=True).query(PAY)
    assert isinstance(streaming, StreamingResponse)
    text = "".join(streaming.response_gen)
    assert text == plain.response
    assert [citation_fields(h.node) for h in streaming.source_nodes] == [
        citation_fields(h.node) for h in plain.source_nodes
    ]
    assert streaming.metadata["verified"] is True
    assert all(slices_file(corpus_dir, h.node) for h in streaming.source_nodes)


def test_query_engine_async(engine):
    response = asyncio.run(RagQueryEngine(engine).aquery(PAY))
    assert response.source_nodes and response.metadata["abstained"] is False


# -- CitationVerifier ----------------------------------------------------------------------------


def foreign_node(corpus_dir: Path, source: str, snippet: str, *, offsets: str = "none") -> NodeWithScore:
    """A node as another pipeline might build it: the sentence holding `snippet`, with no offsets,
    correct offsets, or offsets shifted off the text."""
    text = article(corpus_dir, source)
    at = text.index(snippet)
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    end = len(text) if end < 0 else end
    kwargs = {}
    if offsets == "exact":
        kwargs = {"start_char_idx": start, "end_char_idx": end}
    elif offsets == "shifted":
        kwargs = {"start_char_idx": start + 7, "end_char_idx": end + 7}
    node = TextNode(text=text[start:end], metadata={"file_name": source}, **kwargs)
    return NodeWithScore(node=node, score=1.0)


@pytest.fixture
def verifier(engine):
    return CitationVerifier(engine)


@pytest.mark.parametrize("offsets", ["none", "exact", "shifted"])
def test_verifier_passes_a_correct_answer(verifier, corpus_dir, offsets):
    node = foreign_node(corpus_dir, SHMYHAL_SOURCE, SHMYHAL_SNIPPET, offsets=offsets)
    response = Response("The remaining $60 billion must come from Ukraine's partners, Shmyhal said [1].", [node])
    report = verifier.check(response, PAY)
    assert report.sources[0].how == (BY_OFFSETS if offsets == "exact" else BY_TEXT)
    if offsets == "shifted":  # the claim holds, but the pipeline's offsets cite other text: said so
        node_start = node.node.start_char_idx
        placed = report.sources[0].citation
        assert report.problems == (
            f"source [1]: offsets did not slice the text; placed by text at {placed.start}-{placed.end} of "
            f"{SHMYHAL_SOURCE} (the node said {node_start}-{node.node.end_char_idx})",
        )
        assert placed.start == node_start - 7 and report.sources[0].relocated
        assert all(c.supported for c in report.claims)
    else:
        assert report.ok, report.problems
    placed = report.sources[0].citation
    assert article(corpus_dir, placed.source)[placed.start : placed.end] == placed.text
    assert SHMYHAL_SNIPPET in placed.text
    [claim] = report.claims
    assert claim.citations == (1,) and [f.figure.text for f in claim.figures if f.supported] == ["$60 billion"]


def test_verifier_flags_a_planted_wrong_figure(verifier, corpus_dir):
    node = foreign_node(corpus_dir, SHMYHAL_SOURCE, SHMYHAL_SNIPPET)
    response = Response("The remaining $70 billion must come from Ukraine's partners, Shmyhal said [1].", [node])
    report = verifier.check(response, PAY)
    assert not report.ok
    [claim] = report.claims
    assert not claim.supported
    assert [f.figure.text for f in claim.figures if not f.supported] == ["$70 billion"]
    assert any("$70 billion" in p for p in report.problems)


def test_verifier_flags_a_planted_misattribution(verifier, corpus_dir):
    node = foreign_node(corpus_dir, SHMYHAL_SOURCE, SHMYHAL_SNIPPET)
    response = Response("Zelensky said the remaining $60 billion must come from Ukraine's partners [1].", [node])
    report = verifier.check(response, PAY)
    assert not report.ok
    [claim] = report.claims
    assert all(f.supported for f in claim.figures)  # the figure is right; the speaker is not
    assert any("as the speaker" in p and "Shmyhal" in p for p in claim.problems), claim.problems


def test_verifier_reads_citation_query_engine_labels_and_folded_quotes(verifier, corpus_dir):
    """CitationQueryEngine's "Source 1:" label is not part of the text, and a node whose quotes were
    straightened by some reader is still placed, as a slice of the original article."""
    node = foreign_node(corpus_dir, SHMYHAL_SOURCE, SHMYHAL_SNIPPET).node
    straight = node.get_content().replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
    assert straight != node.get_content()
    relabelled = TextNode(text=f"Source 1:\n{straight}\n")
    report = verifier.check(
        Response("Partners must cover the remaining $60 billion [1].", [NodeWithScore(node=relabelled)])
    )
    assert report.ok, report.problems
    placed = report.sources[0].citation
    assert placed.source == SHMYHAL_SOURCE and placed.text == node.get_content()


def test_verifier_reports_a_node_from_no_article(verifier):
    node = NodeWithScore(node=TextNode(text="Partners will pay $60 billion, officials said."))
    report = verifier.check(Response("Partners will pay $60 billion [1].", [node]))
    assert not report.ok
    assert report.sources[0].how == UNPLACED
    assert any("not a span of any article" in p for p in report.problems)


def test_verifier_as_a_llama_index_evaluator(verifier, corpus_dir):
    node = foreign_node(corpus_dir, SHMYHAL_SOURCE, SHMYHAL_SNIPPET)
    good = verifier.evaluate_response(PAY, Response("Partners must cover the remaining $60 billion [1].", [node]))
    bad = verifier.evaluate_response(PAY, Response("Partners must cover the remaining $90 billion [1].", [node]))
    assert good.passing and good.score == 1.0
    assert not bad.passing and "$90 billion" in bad.feedback
    plain = verifier.evaluate(PAY, "Partners must cover the remaining $90 billion [1].", [node.node.get_content()])
    assert not plain.passing


def test_verifier_names_its_size_limit_instead_of_checking(engine, corpus_dir):
    node = foreign_node(corpus_dir, SHMYHAL_SOURCE, SHMYHAL_SNIPPET)
    text = "Partners must cover the remaining $60 billion [1]. " * 10
    report = CitationVerifier(engine, max_chars=100).check(Response(text, [node]), PAY)
    assert not report.ok and not report.claims
    [problem] = report.problems
    assert f"the answer is {len(text):,} characters" in problem and "limit of 100" in problem
    assert "max_chars" in problem


def test_verifier_reads_a_speaker_at_the_end_of_a_very_long_sentence(verifier, corpus_dir):
    """The bounded look-around keeps attribution working however long the sentence is."""
    node = foreign_node(corpus_dir, SHMYHAL_SOURCE, SHMYHAL_SNIPPET)
    filler = "the remaining $60 billion must come from Ukraine's partners, " * 2000  # ~120 KB, one sentence
    wrong = verifier.check(Response(f"As {filler}Zelensky said [1].", [node]), PAY)
    assert any("as the speaker" in p and "Zelensky" in p for p in wrong.problems), wrong.problems[:3]
    right = verifier.check(Response(f"As {filler}Shmyhal said [1].", [node]), PAY)
    assert not any("as the speaker" in p for p in right.problems), right.problems[:3]


def test_verifier_checks_our_own_query_engine(verifier, engine):
    response = RagQueryEngine(engine).query(PAY)
    report = verifier.check(response, PAY)
    assert report.ok, report.problems
    assert {s.how for s in report.sources} == {BY_OFFSETS}


def test_retriever_in_a_chat_engine(engine, corpus_dir, no_network):
    from llama_index.core.chat_engine import ContextChatEngine

    chat = ContextChatEngine.from_defaults(retriever=RagRetriever(engine, top_n=3), llm=MockLLM())
    reply = chat.chat(PAY)
    assert len(reply.source_nodes) == 3
    assert all(slices_file(corpus_dir, h.node) for h in reply.source_nodes)
