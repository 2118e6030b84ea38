"""The HTML the app shows: highlights that slice exactly, markers placed for every citation."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from rag import Answer, Citation, Passage
from rag.types import Conflict, Side, Statement
from ui import render
from ui.markers import place_markers

TRICKY = ["\r\n", "\r", "\n", "<", ">", "&", "&amp;", '"', "'", "${x}", "{{x}}", "\u2019", "\u00a0", "\U0001f600",
          "<script>alert(1)</script>", "\t", "é"]


def cite(text: str, start: int, end: int, doc_id: str = "d") -> Citation:
    return Citation(doc_id, f"{doc_id}.txt", start, end, text[start:end])


class _MarkText(HTMLParser):
    """Collects the text inside <mark> the way a DOM's textContent would (entities decoded)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth, self.marked, self.all_text, self.marks = 0, [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "mark":
            self.depth += 1
            self.marks += 1

    def handle_endtag(self, tag):
        if tag == "mark":
            self.depth -= 1

    def handle_data(self, data):
        self.all_text.append(data)
        if self.depth:
            self.marked.append(data)


def parse(html: str) -> _MarkText:
    parser = _MarkText()
    parser.feed(html)
    parser.close()
    return parser


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(TRICKY), st.text(min_size=1, max_size=12)), min_size=1, max_size=30),
       st.data())
def test_highlight_is_exactly_the_slice(parts, data):
    text = "".join(parts)
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    html = render.source_html(text, start, end, heading="h", detail="d")
    article = html.split('<div class="rag-article">', 1)[1]
    parsed = parse(article)
    assert parsed.marks == 1
    assert "".join(parsed.marked) == text[start:end]
    # A raw carriage return would be folded into "\n" by a browser's parser; it must be a reference.
    assert "\r" not in html
    assert "<script>" not in html


def test_markers_follow_verbatim_quotes():
    doc = "Alpha beta gamma. Delta epsilon zeta. Eta theta."
    first, second = cite(doc, 0, 17), cite(doc, 18, 37)
    answer_text = f"{first.text} {second.text}"
    placed = place_markers(answer_text, [first, second])
    assert placed.text == answer_text
    assert placed.markers == ((17, (1,)), (len(answer_text), (2,)))


DOC = "Ukraine expects war costs of $120 billion in 2026. Germany pledged new air defence systems."
COSTS, GERMANY = cite(DOC, 0, 50), cite(DOC, 51, len(DOC))


def numbers_at(placed) -> dict[int, int]:
    return {n: point for point, numbers in placed.markers for n in numbers}


def test_llm_markers_become_clickable_where_the_model_put_them():
    # The engine renumbers markers so that [n] names answer.citations[n-1].
    text = "Germany will send air defence systems [2]. The war will cost Ukraine $120 billion next year [1][2]."
    placed = place_markers(text, [COSTS, GERMANY])
    assert placed.text == "Germany will send air defence systems . The war will cost Ukraine $120 billion next year ."
    assert placed.markers == ((38, (2,)), (len(placed.text) - 1, (1, 2)))


def test_markers_naming_no_citation_are_dropped_and_paraphrases_get_the_closest_sentence():
    text = "Germany will send air defence systems [7]. The war will cost Ukraine $120 billion next year."
    placed = place_markers(text, [COSTS, GERMANY])
    assert placed.text == "Germany will send air defence systems. The war will cost Ukraine $120 billion next year."
    by_number = numbers_at(placed)
    assert by_number[2] == placed.text.index(".") + 1  # the Germany sentence comes first in the answer
    assert by_number[1] == len(placed.text)


def test_a_citation_no_marker_names_still_gets_one():
    placed = place_markers("Germany will send air defence systems [2].", [COSTS, GERMANY])
    assert sorted(numbers_at(placed)) == [1, 2]


def test_every_citation_gets_one_marker_even_without_overlap():
    doc = "Completely unrelated words here."
    c = cite(doc, 0, len(doc))
    placed = place_markers("Nothing in common.", [c, c])
    assert sorted(n for _, numbers in placed.markers for n in numbers) == [1, 2]


def _answer(text: str, citations, **kw) -> Answer:
    return Answer("q?", text, tuple(citations), kw.pop("abstained", False), "extractive", **kw)


def test_answer_message_escapes_text_and_links_each_citation():
    doc = "Prices rose <5%> & more. Second fact here."
    c1, c2 = cite(doc, 0, 24), cite(doc, 25, len(doc))
    html = render.answer_html(_answer(f"{c1.text} {c2.text}", [c1, c2]), 7, {"d": "A <title>"})
    assert "&lt;5%&gt; &amp; more." in html and "<5%>" not in html
    assert html.count('href="#rag-c7-1"') == 2 and html.count('href="#rag-c7-2"') == 2  # inline + source list
    assert "A &lt;title&gt;" in html


def test_unverified_fallback_and_abstained_answers_are_marked():
    doc = "A fact."
    c = cite(doc, 0, len(doc))
    plain = render.answer_html(_answer(doc, [c]), 1, {})
    assert "rag-badge" not in plain
    unverified = render.answer_html(_answer(doc, [c], verified=False, fallback_reason="figure 7 not in sources"), 1, {})
    assert "not verified" in unverified and "fallback: figure 7 not in sources" in unverified
    abstained = render.answer_html(_answer("No answer.", [], abstained=True), 1, {})
    assert "no answer in the corpus" in abstained


def test_a_refusal_lists_its_closest_passages_escaped_and_labelled_as_no_answer():
    doc = "The port opened <late>. Ships came."
    closest = (cite(doc, 0, 23), cite(doc, 24, len(doc)))
    html = render.answer_html(replace(_answer("No answer.", [], abstained=True), closest=closest), 1, {"d": "Doc"})
    assert "Closest passages, not an answer" in html
    assert "The port opened &lt;late&gt;." in html and "Ships came." in html
    assert "rag-sources" not in html  # no citation list: these are not an answer's sources
    assert "Closest passages" not in render.answer_html(_answer(doc, [closest[0]]), 1, {})


def test_the_short_answer_leads_the_message_escaped_with_where_it_stands():
    doc = "The harbour was rebuilt by <Ada> Linnet."
    sentence = cite(doc, 0, len(doc))
    html = render.answer_html(replace(_answer(doc, [sentence]), short=cite(doc, 27, 39)), 1, {"d": "Doc"})
    assert "Short answer:" in html and "&lt;Ada&gt; Linnet" in html and "<Ada>" not in html
    assert html.index("Short answer:") < html.index("rag-answer-text")
    assert 'title="Doc d.txt:27-39"' in html
    assert "Short answer:" not in render.answer_html(_answer(doc, [sentence]), 1, {})


def test_passages_panel_marks_the_cited_ones():
    doc = "One two three. Four five six. Seven eight nine."
    cited = cite(doc, 15, 29)
    passages = (Passage(cite(doc, 0, 29), 0.9, 0.8, 3.0, rank=1), Passage(cite(doc, 30, len(doc)), 0.5, 0.4, None, rank=2))
    html = render.passages_html(_answer(cited.text, [cited], passages=passages), 3, {"d": "Doc"}, "earlier q? and this")
    first, second = html.split('<li class="rag-passage')[1:]
    assert "cited [1]" in first and 'href="#rag-p3-1"' in first
    assert "not cited" in second and "bm25 -" in second
    assert "Searched for: earlier q? and this" in html


def test_streamed_draft_hides_prompt_evidence_ids():
    from rag.markers import without_draft_markers

    assert without_draft_markers("Costs rose [3]. Germany pledged [1, 4] aid [2].") == "Costs rose. Germany pledged aid."


# -- the answer card: speakers, conflicts, other sources ----------------------------------------------

def _card_answer():
    lead_doc = "Ukraine put its 2026 defence costs at $120 billion."
    other_doc = "The minister said <costs> for 2026 would reach $150 billion & more."
    lead = replace_speaker(cite(lead_doc, 0, len(lead_doc), "a"), "Ukraine")
    other = replace_speaker(cite(other_doc, 0, len(other_doc), "b"), "the <minister>")
    conflict = Conflict("cost", "Ukraine", "2026", Side("Ukraine", "$120 billion", 1, lead),
                        Side("the <minister>", "$150 billion", 2, other))
    return _answer(lead.text, [lead], statements=(Statement("the <minister>", None, "conflicts", other),),
                   conflicts=(conflict,))


def replace_speaker(c: Citation, speaker: str) -> Citation:
    return replace(c, speaker=speaker)


def test_citations_show_their_speaker_as_an_escaped_chip():
    html = render.answer_html(_card_answer(), 2, {"a": "Lead article", "b": "Other article"})
    sources = html.split('<ol class="rag-sources">')[1]
    assert '<span class="rag-speaker" title="speaker in this sentence">Ukraine</span>' in sources
    assert "the &lt;minister&gt;" in html and "<minister>" not in html


def test_a_conflict_is_a_banner_linking_both_sides_before_the_answer_text():
    html = render.answer_html(_card_answer(), 2, {})
    banner = html.split('<div class="rag-conflict" role="note">')[1].split("</div>")[0]
    text = parse(banner).all_text
    assert "".join(text) == "Sources differ: Ukraine says $120 billion [1], the <minister> says $150 billion [2]"
    assert 'href="#rag-c2-1"' in banner and 'href="#rag-c2-2"' in banner
    assert html.index("rag-conflict") < html.index("rag-answer-text")


def test_other_sources_are_listed_after_the_citations_with_their_relation_and_exact_text():
    answer = _card_answer()
    html = render.answer_html(answer, 2, {"b": "Other article"})
    card = html.split('<div class="rag-statements">')[1]
    assert 'href="#rag-c2-2"' in card  # numbered after the one citation
    assert "differs" in card and "Other article" in card
    quoted = "".join(parse(card.split('<div class="rag-statement-text">')[1].split("</div>")[0]).all_text)
    assert quoted == f"“{answer.statements[0].citation.text}”"


def test_an_answer_without_card_shows_no_banner_nor_other_sources():
    doc = "A fact."
    html = render.answer_html(_answer(doc, [cite(doc, 0, len(doc))]), 1, {})
    assert "rag-conflict" not in html and "rag-statements" not in html and "rag-speaker" not in html
