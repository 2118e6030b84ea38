"""HTML for the chat: answers with clickable markers, the source view, passages and the corpus.

Everything shown is sliced from the documents with Python string offsets and escaped here, so
what the highlight covers is exactly `document.text[start:end]`. A carriage return is written
as `&#13;`: a literal one would be folded into the next newline by the HTML parser and the
highlighted text would no longer equal the cited span.

References are links `#rag-<ref>`; `ui.assets` turns a click on one into a server event.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

from rag import Answer, Citation, Passage
from rag.spans import overlaps
from rag.types import Conflict, Statement, day_label
from ui.markers import place_markers

PREVIEW_CHARS = 220


def text_html(text: str) -> str:
    """Escaped text whose DOM text content equals `text`, character for character."""
    return escape(text, quote=True).replace("\r", "&#13;")


def ref_link(ref: str, label: str, title: str = "", css: str = "rag-cite") -> str:
    tip = f' title="{escape(title)}"' if title else ""
    return f'<a class="{css}" href="#rag-{escape(ref)}"{tip}>{escape(label)}</a>'


def citation_ref(turn: int, number: int, corroboration: int = 0) -> str:
    return f"c{turn}-{number}" + (f"-{corroboration}" if corroboration else "")


def passage_ref(turn: int, rank: int) -> str:
    return f"p{turn}-{rank}"


def _badges(answer: Answer) -> str:
    badges = []
    if answer.abstained:
        badges.append(("rag-badge-abstain", "no answer in the corpus"))
    if answer.verified is False:
        badges.append(("rag-badge-unverified", "not verified"))
    elif answer.verified is True:
        badges.append(("rag-badge-verified", "verified"))
    if answer.fallback_reason:
        badges.append(("rag-badge-fallback", f"fallback: {answer.fallback_reason}"))
    return "".join(f'<span class="rag-badge {css}">{escape(label)}</span> ' for css, label in badges)


def flag_badge(flags: Sequence[str]) -> str:
    """A warning on a span flagged at index time (`index.injection`): it reads as instructions
    to an AI, so it is shown as quoted article text and never trusted as support."""
    if not flags:
        return ""
    return (
        f'<span class="rag-badge rag-badge-flagged" title="{escape(", ".join(flags))}">'
        "flagged: reads as instructions to an AI</span>"
    )


def _paragraphs(html_text: str) -> str:
    return html_text.replace("\n", "<br>")


def answer_html(answer: Answer, turn: int, titles: dict[str, str]) -> str:
    """The assistant's chat message: answer text with `[n]` links, badges and a source list."""
    placed = place_markers(answer.text, answer.citations)
    pieces, cursor = [], 0
    for point, numbers in placed.markers:
        pieces.append(text_html(placed.text[cursor:point]))
        for n in numbers:
            c = answer.citations[n - 1]
            pieces.append(ref_link(citation_ref(turn, n), f"[{n}]", f"{c.source} {c.start}-{c.end}"))
        cursor = point
    pieces.append(text_html(placed.text[cursor:]))
    body = f'<div class="rag-answer-text">{_paragraphs("".join(pieces))}</div>'
    if answer.short is not None:
        body = _short(answer.short, titles) + body
    badges = _badges(answer)
    head = f'<div class="rag-badges">{badges}</div>' if badges else ""
    return (
        f'<div class="rag-answer">{head}{_conflicts(answer.conflicts, turn)}{body}'
        f"{_source_list(answer.citations, turn, titles)}"
        f"{_statements(answer.statements, len(answer.citations), turn, titles)}"
        f"{_closest(answer.closest, titles)}</div>"
    )


def _short(c: Citation, titles: dict[str, str]) -> str:
    """The short answer above the cited sentence, with where it stands (an exact span too)."""
    where = f"{titles.get(c.doc_id) or c.source} {c.label}"
    return (
        f'<div class="rag-short"><span class="rag-short-head">Short answer:</span> '
        f'<span class="rag-short-text" title="{escape(where)}">{text_html(c.text)}</span></div>'
    )


def _closest(citations: Sequence[Citation], titles: dict[str, str]) -> str:
    """After a refusal: the passages that came closest, quoted exactly and marked as no answer."""
    if not citations:
        return ""
    items = "".join(
        f'<li><span class="rag-closest-where">{escape(titles.get(c.doc_id) or c.source)} {escape(c.label)}</span> '
        f"“{text_html(c.text)}”</li>"
        for c in citations
    )
    return f'<div class="rag-closest"><div class="rag-closest-head">Closest passages, not an answer</div><ul>{items}</ul></div>'


def speaker_chip(speaker: str | None) -> str:
    """Who the article says is speaking in the cited sentence; nothing when it does not say."""
    if not speaker:
        return ""
    return f' <span class="rag-speaker" title="speaker in this sentence">{escape(speaker)}</span>'


def _conflicts(conflicts: Sequence[Conflict], turn: int) -> str:
    """A banner per conflict: two independent sources give different values for one quantity."""
    if not conflicts:
        return ""
    rows = []
    for c in conflicts:
        sides = ", ".join(
            f"{escape(s.who)} says {escape(s.value)} {ref_link(citation_ref(turn, s.number), f'[{s.number}]', s.citation.label)}"
            + (f" (article of {escape(s.published)})" if s.published else "")
            for s in (c.first, c.second)
        )
        if c.superseded:  # dated sides, older first: the newer article revises the older figure
            sides = "; ".join(
                f"on {escape(day_label(s.published))} {escape(s.who)} said {escape(s.value)} "
                f"{ref_link(citation_ref(turn, s.number), f'[{s.number}]', s.citation.label)}"
                for s in (c.first, c.second)
            )
            rows.append(
                f'<div class="rag-conflict rag-superseded" role="note">Revised: {sides}, the newer figure '
                "(the older one is superseded)</div>"
            )
            continue
        rows.append(f'<div class="rag-conflict" role="note">Sources differ: {sides}</div>')
    return "".join(rows)


RELATION_LABELS = {
    "agrees": "agrees",
    "adds": "adds",
    "conflicts": "differs",
    "superseded": "older figure",
    "revises": "newer figure",
}


def _statements(statements: Sequence[Statement], first: int, turn: int, titles: dict[str, str]) -> str:
    """The other independent sources' statements, numbered after the citations [first+1..]."""
    if not statements:
        return ""
    items = []
    for n, s in enumerate(statements, start=first + 1):
        c = s.citation
        title = titles.get(c.doc_id) or c.source
        relation = (
            f'<span class="rag-badge rag-relation rag-relation-{escape(s.relation)}">'
            f"{escape(RELATION_LABELS.get(s.relation, s.relation))}</span>"
        )
        items.append(
            f"<li>{ref_link(citation_ref(turn, n), f'[{n}]', c.label)} {relation}{speaker_chip(s.speaker)} "
            f'{escape(title)}{published_chip(c.published)}<div class="rag-statement-text">“{text_html(c.text)}”</div></li>'
        )
    return (
        f'<div class="rag-statements"><div class="rag-statements-head">Other sources</div>'
        f'<ol class="rag-sources">{"".join(items)}</ol></div>'
    )


def published_chip(published: str) -> str:
    """The article's date beside its title, when known."""
    return f' <small class="rag-published">({escape(published)})</small>' if published else ""


def _source_list(citations: Sequence[Citation], turn: int, titles: dict[str, str]) -> str:
    if not citations:
        return ""
    items = []
    for n, c in enumerate(citations, start=1):
        title = titles.get(c.doc_id) or c.source
        also = "".join(
            " "
            + ref_link(
                citation_ref(turn, n, m), f"also in {titles.get(o.doc_id) or o.source}", o.label, "rag-cite rag-also"
            )
            for m, o in enumerate(c.corroborated_by, start=1)
        )
        items.append(
            f"<li>{ref_link(citation_ref(turn, n), f'[{n}]', c.label)}{speaker_chip(c.speaker)} {escape(title)}"
            f"{published_chip(c.published)}{also}{flag_badge(c.flags)}</li>"
        )
    return f'<ol class="rag-sources">{"".join(items)}</ol>'


def notice_html(message: str, kind: str = "error") -> str:
    """A friendly failure or hint in the chat, never a traceback."""
    return f'<div class="rag-notice rag-notice-{escape(kind)}">{_paragraphs(text_html(message))}</div>'


def user_html(question: str, limit: int = 400) -> str:
    shown = question if len(question) <= limit else f"{question[:limit]}… ({len(question)} characters)"
    return _paragraphs(text_html(shown))


def source_html(text: str, start: int, end: int, *, heading: str, detail: str, ref: str = "") -> str:
    """The whole article with `text[start:end]` in a `<mark>`; the page scrolls to the mark."""
    article = (
        text_html(text[:start])
        + (f'<mark class="rag-highlight" data-start="{start}" data-end="{end}">{text_html(text[start:end])}</mark>')
        + text_html(text[end:])
    )
    return (
        f'<div class="rag-source" data-ref="{escape(ref)}">'
        f'<div class="rag-source-head"><strong>{escape(heading)}</strong><br><small>{escape(detail)}</small></div>'
        f'<div class="rag-article">{article}</div></div>'
    )


def placeholder_html(message: str) -> str:
    return f'<div class="rag-placeholder">{escape(message)}</div>'


def _overlaps(p: Passage, citations: Sequence[Citation]) -> list[int]:
    pc = p.citation
    return [n for n, c in enumerate(citations, start=1) if overlaps(c, pc)]


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def passages_html(answer: Answer, turn: int, titles: dict[str, str], query: str = "") -> str:
    """The retrieved passages with their scores, marking the ones the answer cites."""
    if not answer.passages:
        return placeholder_html("No passages were retrieved.")
    rows = []
    for p in answer.passages:
        cited = _overlaps(p, answer.citations)
        flag = (
            f'<span class="rag-badge rag-badge-cited">cited {" ".join(f"[{n}]" for n in cited)}</span>'
            if cited
            else '<span class="rag-badge rag-badge-uncited">not cited</span>'
        )
        preview = p.citation.text if len(p.citation.text) <= PREVIEW_CHARS else p.citation.text[:PREVIEW_CHARS] + "…"
        title = titles.get(p.citation.doc_id) or p.citation.source
        rows.append(
            f'<li class="rag-passage{" rag-passage-cited" if cited else ""}">'
            f"<div>{ref_link(passage_ref(turn, p.rank), f'#{p.rank}', p.citation.label, 'rag-cite rag-passage-link')} "
            f"{escape(title)} {flag}{flag_badge(p.citation.flags)}</div>"
            f'<div class="rag-scores">score {_score(p.score)} · dense {_score(p.dense)} · bm25 {_score(p.bm25)}</div>'
            f'<div class="rag-preview">{text_html(preview)}</div></li>'
        )
    searched = (
        f'<div class="rag-query">Searched for: {text_html(query)}</div>' if query and query != answer.question else ""
    )
    return f'{searched}<ol class="rag-passages">{"".join(rows)}</ol>'


def corpus_html(documents: Sequence) -> str:
    """The articles with titles, publishers, files and sizes."""
    rows = "".join(
        f"<tr><td>{escape(d.title or d.source)}</td><td>{escape(d.publisher or '-')}</td>"
        f"<td><code>{escape(d.source)}</code></td><td>{len(d.text):,}</td></tr>"
        for d in documents
    )
    return (
        f'<table class="rag-corpus"><thead><tr><th>Title</th><th>Publisher</th><th>File</th>'
        f"<th>Characters</th></tr></thead><tbody>{rows}</tbody></table>"
    )
