"""The short answer: the words of the cited sentence that fill the question's gap.

"In what country is Velmora?" answered by "..., a town in Estrava." leads with
"Estrava", cited as its own exact span, and the whole sentence follows as the evidence. Only a
question that asks for a typed filler (a person, place, body, date, count, amount, share:
`rag.reader.expected_filler`) gets one; a "why" or "what did X say" question is answered by the
sentence itself.

Which filler, when the sentence holds several of the asked kind: one the question does not
already name, of the kind the question word asks for first ("who": a person before a people or a
country), and among those the nearest to the question's own words in the sentence. That is how a reader finds the
gap ("... was founded by X in 1066": "who founded ..." -> X, next to "founded"), and it needs
nothing but the sentence's stored entities (`index.analysis.SentenceAnalysis.entities`).
"""

from __future__ import annotations

import re

from index.analysis import SentenceAnalysis
from index.terms import tokenize
from rag.reader import expected_filler

_TOKEN = re.compile(r"\w+", re.UNICODE)
# "Who is X?", "What was the Y?": asks what X is (a title, a description), which no single name fills.
_DESCRIBE = re.compile(
    r"^\s*(?i:who|what)\s+(?i:is|was|are|were)\s+(?:the\s+)?[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*)*\s*\??\s*$"
)
# A people's adjective written before a noun ("the German minister") says whose, not who; a
# plural ("Ukrainians alone") is the people themselves.
_BEFORE_NOUN = re.compile(r"\s+[A-Za-z]")


def filler_span(question: str, sentence: str, analysis: SentenceAnalysis) -> tuple[int, int] | None:
    """`(start, end)` of the short answer inside `sentence`, or None when the question asks for no
    typed filler or the sentence holds none the question lacks."""
    expected = expected_filler(question)
    if not expected.typed or _DESCRIBE.match(question):
        return None
    asked = set(tokenize(question))
    folded = question.lower()
    spans: list[tuple[int, int, int]] = []  # (rank of the label among those asked, start, end)
    for label, text in analysis.entities:
        if label not in expected.labels or text.lower() in folded:
            continue
        if set(tokenize(text)) <= asked:  # only words the question already has: not the gap
            continue
        at = sentence.find(text)
        if at < 0 or label == "NORP" and not text.endswith("s") and _BEFORE_NOUN.match(sentence, at + len(text)):
            continue
        spans.append((expected.labels.index(label), at, at + len(text)))
    if not spans:
        return None
    anchors = [m.start() for m in _TOKEN.finditer(sentence) if set(tokenize(m.group())) & asked]

    def distance(span: tuple[int, int, int]) -> int:
        return min((min(abs(a - span[1]), abs(a - span[2])) for a in anchors), default=0)

    # The asked kind's first label wins ("who": a person before a people's name), then nearness.
    best = min(spans, key=lambda s: (s[0], distance(s), s[1]))
    return best[1], best[2]


__all__ = ["filler_span"]
