"""Chat behaviour over the real engine: answers, follow-ups, references, and friendly failures."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from ui_async import run_async

from rag import BackendError, Engine, IndexMissing, QuestionError, Settings
from ui.chat import ChatState, friendly_error, respond, show_reference
from ui.shared_engine import SharedEngine

QUESTION = "How much must partners pay for Ukraine's defence in 2026?"


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.marked, self.in_mark = [], [], False

    def handle_starttag(self, tag, attrs):
        self.in_mark = self.in_mark or tag == "mark"

    def handle_endtag(self, tag):
        if tag == "mark":
            self.in_mark = False

    def handle_data(self, data):
        self.parts.append(data)
        if self.in_mark:
            self.marked.append(data)


def mark_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return "".join(p.marked)


def run(shared, question, state=None, messages=None, **kw):
    async def collect():
        return [u async for u in respond(shared, question, messages, state, **kw)]

    updates = run_async(collect())
    return updates, updates[-1]


@pytest.fixture(scope="module")
def shared(engine):
    return SharedEngine(engine.settings, engine)


@pytest.fixture
def cited_article(engine, corpus_dir, tmp_path) -> Path:
    """A one-article corpus holding the article that answers QUESTION: quick to index."""
    source = engine.ask(QUESTION).citations[0].source
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(corpus_dir / source, folder / source)
    return folder


def test_answer_has_markers_and_each_opens_its_exact_span(shared, engine):
    updates, last = run(shared, QUESTION)
    expected = engine.ask(QUESTION)
    assert expected.citations, "the gold question should be answerable"
    assert last.messages[0] == {"role": "user", "content": "How much must partners pay for Ukraine&#x27;s defence in 2026?"}
    content = last.messages[-1]["content"]
    assert 'class="rag-cite" href="#rag-c1-1"' in content
    assert last.passages and "cited [1]" in last.passages
    # The first update shows the question and a pending note before any answer exists.
    assert "Searching the articles" in updates[0].messages[-1]["content"]
    for n, citation in enumerate(expected.citations, start=1):
        html = show_reference(shared, f"c1-{n}", last.state)
        assert mark_text(html) == citation.text
        assert f'data-start="{citation.start}" data-end="{citation.end}"' in html


def test_streamed_text_is_shown_before_the_checked_answer(shared):
    updates, last = run(shared, QUESTION)
    streaming = [u for u in updates if "rag-notice-streaming" in u.messages[-1]["content"]]
    assert streaming, "the text from ask_stream should appear before the final answer"
    assert streaming[-1] is not last and "rag-answer" in last.messages[-1]["content"]


def test_passage_reference_highlights_the_whole_passage(shared):
    _, last = run(shared, QUESTION, k=3)
    answer = last.state.turns[1].answer
    assert len(answer.passages) == 3
    for p in answer.passages:
        assert mark_text(show_reference(shared, f"p1-{p.rank}", last.state)) == p.citation.text


def test_follow_up_searches_with_the_previous_question(shared):
    _, first = run(shared, QUESTION)
    _, follow = run(shared, "and what about Germany?", state=first.state, messages=first.messages)
    turn = follow.state.turns[2]
    assert turn.query == f"{QUESTION} and what about Germany?"
    assert "Searched for:" in follow.passages
    _, fresh = run(shared, "and what about Germany?")
    assert fresh.state.turns[1].query == "and what about Germany?"
    assert "Searched for:" not in (fresh.passages or "")


@pytest.mark.parametrize("question", ["", "   \n  "])
def test_empty_input_gets_a_hint_and_no_turn(shared, question):
    updates, last = run(shared, question)
    assert len(updates) == 1 and last.state.turns == {}
    assert [m["role"] for m in last.messages] == ["assistant"]
    assert "Type a question first" in last.messages[-1]["content"]


def test_overlong_input_is_refused_with_the_limit(shared, engine):
    limit = engine.settings.max_question_chars
    _, last = run(shared, "why " * limit)
    reply = last.messages[-1]["content"]
    assert "can&#x27;t be used" in reply and str(limit) in reply and "Traceback" not in reply
    assert "characters)" in last.messages[-2]["content"]  # the echoed question is shortened
    assert last.state.turns == {}


def test_unknown_backend_and_bad_k_are_chat_messages(shared):
    _, last = run(shared, QUESTION, backend="no-such-backend")
    assert "no-such-backend" in last.messages[-1]["content"] and "extractive" in last.messages[-1]["content"]
    _, last = run(shared, QUESTION, k="lots")
    assert "whole number" in last.messages[-1]["content"]
    _, last = run(shared, QUESTION, k=0)
    assert "between 1 and" in last.messages[-1]["content"]


def test_unopenable_engine_reports_in_chat_and_recovers_after_rebuild(tmp_path, cited_article, embedder):
    empty = tmp_path / "empty"
    empty.mkdir()
    settings = Settings(corpus_dir=empty, index_dir=tmp_path / "idx")
    shared = SharedEngine(settings, open_engine=lambda progress=None: Engine.open(
        settings, embedder=embedder, progress=progress, log=None))
    _, last = run(shared, QUESTION)
    reply = last.messages[-1]["content"]
    assert "Rebuild index" in reply and str(empty) in reply
    assert shared.documents == ()
    # The corpus appears; the Rebuild button path opens the engine and answers work.
    for f in cited_article.iterdir():
        f.rename(empty / f.name)
    progress = []
    shared.rebuild(progress=lambda done, total: progress.append((done, total)))
    assert progress and progress[-1][0] == progress[-1][1]
    assert len(shared.documents) == 1
    _, last = run(shared, QUESTION)
    assert 'href="#rag-c1-1"' in last.messages[-1]["content"]


def test_a_reference_to_a_changed_article_says_so(tmp_path, cited_article, embedder):
    settings = Settings(corpus_dir=cited_article, index_dir=tmp_path / "idx")
    shared = SharedEngine(settings, Engine.open(settings, embedder=embedder, log=None))
    _, last = run(shared, QUESTION)
    cited = last.state.turns[1].answer.citations[0]
    path = cited_article / cited.source
    text = path.read_text(encoding="utf-8")
    path.write_text("An inserted first line shifts every offset.\n" + text, encoding="utf-8")
    shared.rebuild()
    html = show_reference(shared, "c1-1", last.state)
    assert "changed after the answer" in html and "<mark" not in html


def test_unknown_references_are_explained(shared):
    _, last = run(shared, QUESTION)
    assert "earlier conversation" in show_reference(shared, "c99-1", last.state)
    assert "earlier conversation" in show_reference(shared, "nonsense", last.state)
    assert "does not exist" in show_reference(shared, "c1-42", last.state)


def test_friendly_errors_name_the_fix_and_never_show_a_traceback():
    assert "Rebuild index" in friendly_error(IndexMissing("no index at /x"))
    assert "extractive" in friendly_error(BackendError("connection refused"), "litellm")
    assert "litellm" in friendly_error(BackendError("connection refused"), "litellm")
    assert "too long" in friendly_error(QuestionError("too long"))
    generic = friendly_error(ZeroDivisionError("division by zero"))
    assert "ZeroDivisionError" in generic and "server log" in generic and "division by zero" not in generic


def test_state_keeps_a_bounded_number_of_turns(shared):
    state = ChatState()
    _, last = run(shared, QUESTION, state=state)
    turn = last.state.turns[1]
    for _ in range(80):
        state.add(turn)
    assert len(state.turns) == 50 and (min(state.turns), max(state.turns)) == (32, 81)
    assert re.search("earlier conversation", show_reference(shared, "c1-1", state))


@pytest.mark.llm
@pytest.mark.usefixtures("local_extra")
def test_llm_answers_stream_piece_by_piece_then_show_checked_citations(shared, monkeypatch):
    """The packaged local model (llama.cpp on 127.0.0.1): text streams in, then the verified answer."""
    # a loaded 2-core machine can spend more than the default 30 s budget on the cold first question
    monkeypatch.setattr(shared, "settings", replace(shared.settings, timeout=300.0))
    updates, last = run(shared, QUESTION, backend="local")
    streamed = [u.messages[-1]["content"] for u in updates if "rag-notice-streaming" in u.messages[-1]["content"]]
    assert len(set(streamed)) >= 3, "an LLM answer should appear piece by piece"
    answer = last.state.turns[1].answer
    final = last.messages[-1]["content"]
    assert answer.backend == "local" and "rag-answer" in final
    assert ("not verified" in final) == (answer.verified is False)
    for n, citation in enumerate(answer.citations, start=1):
        assert f'href="#rag-c1-{n}"' in final
        assert mark_text(show_reference(shared, f"c1-{n}", last.state)) == citation.text


def test_other_sources_statements_open_their_exact_span(shared, engine):
    question = "How large will Ukraine's peacetime army be?"
    expected = engine.ask(question)
    assert expected.statements, "the seed corpus has an independent article agreeing on the army size"
    _, last = run(shared, question)
    first = len(expected.citations) + 1
    assert f'href="#rag-c1-{first}"' in last.messages[-1]["content"]
    for n, statement in enumerate(expected.statements, start=first):
        assert mark_text(show_reference(shared, f"c1-{n}", last.state)) == statement.citation.text
