"""End to end in Debian's Chromium: ask, click a citation, see exactly the cited words highlighted.

Screenshots go to tests/artifacts/ (kept by CI as artifacts).
"""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest

from ui import render

QUESTION = "How much must partners pay for Ukraine's defence in 2026?"
ANSWER_WAIT_MS = 120_000

IN_VIEW = """(mark) => {
  const box = mark.getBoundingClientRect();
  const pane = mark.closest('.rag-article').getBoundingClientRect();
  const visible = (outer) => box.bottom > outer.top && box.top < outer.bottom;
  return visible(pane) && visible({top: 0, bottom: window.innerHeight});
}"""


def ask(page, question: str) -> None:
    page.fill("#rag-question textarea", question)
    page.press("#rag-question textarea", "Enter")


def bot_messages(page):
    return page.locator("#rag-chat [data-testid='bot']")


def wait_for_answer(page, count: int):
    """The `count`-th bot message once it is final (its answer block or a notice that isn't pending)."""
    final = "#rag-chat [data-testid='bot']:has(.rag-answer), #rag-chat [data-testid='bot']:has(.rag-notice-error), " \
            "#rag-chat [data-testid='bot']:has(.rag-notice-hint)"
    page.wait_for_function(f"document.querySelectorAll({final!r}).length >= {count}", timeout=ANSWER_WAIT_MS)
    return bot_messages(page).nth(count - 1)


def only_local_requests(page, base_url: str) -> list[str]:
    origin = urlsplit(base_url)
    return [u for u in page.requests
            if not (u.startswith("data:") or u.startswith("blob:")
                    or (urlsplit(u).hostname == "127.0.0.1" and urlsplit(u).port == origin.port))]


def test_question_to_highlighted_span(ui_server, engine, page, artifacts):
    expected = engine.ask(QUESTION).citations[0]
    page.goto(ui_server.url)
    ask(page, QUESTION)
    message = wait_for_answer(page, 1)
    marker = message.locator(".rag-answer-text a.rag-cite").first
    assert marker.inner_text() == "[1]"
    marker.click()
    mark = page.locator("#rag-source mark.rag-highlight")
    mark.wait_for()
    assert mark.text_content() == expected.text
    assert engine.document(expected.doc_id).text[expected.start:expected.end] == mark.text_content()
    assert (mark.get_attribute("data-start"), mark.get_attribute("data-end")) == (str(expected.start), str(expected.end))
    page.wait_for_function(f"({IN_VIEW})(document.querySelector('#rag-source mark.rag-highlight'))")
    assert "cited [1]" in page.locator("#rag-passages").inner_text()
    page.screenshot(path=str(artifacts / "ui_answer_highlight.png"))
    assert only_local_requests(page, ui_server.url) == []


def test_passages_follow_ups_and_empty_input(ui_server, engine, page, artifacts):
    page.goto(ui_server.url)
    page.click("#rag-ask")  # nothing typed
    assert "Type a question first" in wait_for_answer(page, 1).inner_text()
    ask(page, QUESTION)
    wait_for_answer(page, 2)
    answer = engine.ask(QUESTION)
    last = answer.passages[-1]
    page.locator(f"#rag-passages a[href='#rag-p1-{last.rank}']").click()
    page.wait_for_function(
        "(want) => document.querySelector('#rag-source mark.rag-highlight')?.dataset.start === want", arg=str(last.citation.start))
    assert page.locator("#rag-source mark.rag-highlight").text_content() == last.citation.text
    ask(page, "and what about Germany?")
    wait_for_answer(page, 3)
    page.wait_for_function("document.querySelector('#rag-passages').innerText.includes('Searched for:')")
    assert f"Searched for: {QUESTION} and what about Germany?" in page.locator("#rag-passages").inner_text()
    # The first turn's markers still open their spans after the follow-up.
    bot_messages(page).nth(1).locator(".rag-answer-text a.rag-cite").first.click()
    page.wait_for_function(
        "(want) => document.querySelector('#rag-source mark.rag-highlight')?.dataset.start === want",
        arg=str(answer.citations[0].start))
    page.screenshot(path=str(artifacts / "ui_follow_up.png"))
    assert only_local_requests(page, ui_server.url) == []


TRICKY_TEXTS = [
    "Line one\r\nLine two with \u201cquotes\u201d\r\nThird line",
    "Emoji \U0001f600 before: the <cited> & \"quoted\" part \U0001f30d after",
    "Tabs\tand\u00a0spaces  and ${template} {{handlebars}} <script>alert(1)</script>",
]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_browser_highlight_equals_python_slice(chromium, text):
    """The HTML the app renders, parsed by a real browser, highlights exactly text[start:end]."""
    page = chromium.new_page()
    try:
        for start, end in [(0, len(text)), (3, len(text) - 4), (len(text) // 3, len(text) // 3 + 7)]:
            page.set_content(render.source_html(text, start, end, heading="h", detail="d"))
            assert page.locator("mark").text_content() == text[start:end]
            assert page.locator(".rag-article").text_content() == text
    finally:
        page.close()


def test_corpus_tab_lists_articles_and_rebuilds(tmp_path, corpus_dir, embedder, serve_app, page, artifacts):
    from rag import Engine, Settings

    folder = tmp_path / "corpus"
    folder.mkdir()
    first, second = sorted(corpus_dir.glob("*.txt"))[:2]
    shutil.copy(first, folder / first.name)
    engine = Engine.open(Settings(corpus_dir=folder, index_dir=tmp_path / "idx"), embedder=embedder, log=None)
    served = serve_app(engine)
    page.goto(served.url)
    page.get_by_role("tab", name="Corpus").click()
    table = page.locator("#rag-corpus table.rag-corpus")
    assert table.locator("tbody tr").count() == 1
    assert engine.documents[0].title in table.inner_text()
    shutil.copy(second, folder / second.name)
    page.click("#rag-rebuild")
    page.wait_for_function("document.querySelector('#rag-rebuild-status').innerText.includes('Index rebuilt')",
                           timeout=ANSWER_WAIT_MS)
    assert "1 added" in page.locator("#rag-rebuild-status").inner_text()
    assert table.locator("tbody tr").count() == 2
    page.wait_for_function("!document.querySelector('#rag-corpus .pending')")
    page.screenshot(path=str(artifacts / "ui_corpus.png"))
    assert only_local_requests(page, served.url) == []


def test_settings_offer_only_the_operators_model_servers(ui_server, engine, serve_app, listener, page, artifacts):
    """No box for a model or API base by default; with offered servers, a list of names, and a
    failing server is reported in words of our own, without its address or its reply."""
    from ui.endpoints import Endpoint, EndpointPolicy

    page.goto(ui_server.url)
    page.get_by_text("Settings").click()
    page.locator("#rag-backend").wait_for()
    assert not page.locator("#rag-model").is_visible() and not page.locator("#rag-api-base").is_visible()
    spy = listener(status=401, body=b'{"error": {"message": "REMOTE-SAYS-secret"}}')
    served = serve_app(engine, endpoints=EndpointPolicy((Endpoint("team-model", "openai/m", spy.url),)))
    page.requests.clear()
    page.goto(served.url)
    page.get_by_text("Settings").click()
    page.locator("#rag-backend input").click()
    page.get_by_role("option", name="litellm").click()
    page.locator("#rag-model input").click()
    page.get_by_role("option", name="team-model").click()
    assert not page.locator("#rag-api-base").is_visible()
    ask(page, QUESTION)
    text = wait_for_answer(page, 1).inner_text()
    assert "the model server answered HTTP 401" in text
    assert "REMOTE-SAYS" not in text and "127.0.0.1" not in text and spy.requests
    page.screenshot(path=str(artifacts / "ui_operator_model.png"))
    assert only_local_requests(page, served.url) == []
