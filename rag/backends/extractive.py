"""The default backend: no model. It answers with the best evidence sentence, cut to the
shortest clause that still carries the question's terms and the figure it asks for.

A sentence flagged as reading like instructions to an AI (`index.injection`) is never the answer,
whatever its score. The draft is the quote alone, without markers: verification reads a text
quoting its citation word for word as one claim citing it, so a literal "[2]" inside the article
sentence is text, not a marker (`rag.markers`, quoted spans)."""

from __future__ import annotations

import re
from typing import Sequence

from index.terms import asked_kind, has_kind, tokenize
from rag.backends.base import Backend, BackendOptions, Deadline, Draft
from rag.reader import possible_fillers
from rag.tuning import DEFAULT, Tuning
from rag.types import Evidence

# Where a sentence may be cut into clauses: semicolons, dashes, and a comma before a
# subordinate clause. Cuts keep the sentence's own characters; nothing is rewritten.
_CLAUSE_BREAK = re.compile(
    r";\s+|\s[\u2014\u2013]\s|,\s+(?=(?:which|while|with|of which|saying|asking|urging|even|as|though|"
    r"although|but|calling|citing|stating|adding|noting|including|according)\b)"
)


def clauses(text: str) -> list[tuple[int, int]]:
    """Clause boundaries as offsets relative to `text`."""
    cuts = [0]
    for m in _CLAUSE_BREAK.finditer(text):
        cuts += [m.start(), m.end()]
    cuts.append(len(text))
    return [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2) if cuts[i + 1] > cuts[i]]


def shortest_answering_span(
    question: str,
    sentence: str,
    keep_share: float = DEFAULT.keep_share,
    min_words: int = DEFAULT.min_clause_words,
) -> tuple[int, int]:
    """Relative `(start, end)` of the shortest run of clauses, of `min_words` words at least, that
    keeps `keep_share` of the sentence's matched question terms (and the figure asked for)."""
    q_terms = set(tokenize(question))
    kind = asked_kind(question)
    if re.match(r"\s*(?:why|how come)\b", question, re.I):
        return 0, len(sentence)  # the reason is usually the clause a cut would drop

    def matched(text: str) -> int:
        return len(q_terms & set(tokenize(text)))

    need = matched(sentence) * keep_share
    need_kind = has_kind(sentence, kind)
    # "Who ruled X?": a piece that drops a name the question lacks may have cut the answer away.
    fillers = possible_fillers(sentence, question)
    parts = clauses(sentence)
    best = (0, len(sentence))
    for i in range(len(parts)):
        for j in range(i, len(parts)):
            start, end = parts[i][0], parts[j][1]
            piece = sentence[start:end]
            if end - start >= best[1] - best[0] or len(piece.split()) < min_words:
                continue
            if matched(piece) >= need and (not need_kind or has_kind(piece, kind)) and all(f in piece for f in fillers):
                best = (start, end)
    return best


class ExtractiveBackend(Backend):
    """Needs nothing and never fails: also the fallback the engine shows when a draft fails."""

    name = "extractive"

    def __init__(self, tuning: Tuning = DEFAULT, cut: bool = True):
        # The engine passes its own tuning, and `cut=False` when the clause_cut form is switched off.
        self.keep_share = tuning.keep_share
        self.min_words = tuning.min_clause_words
        self.cut = cut

    @classmethod
    def options_key(cls, options: BackendOptions) -> BackendOptions:
        return BackendOptions()  # no option changes what it writes

    def draft(self, question: str, evidence: Sequence[Evidence], *, deadline: Deadline | None = None) -> Draft:
        top = next((e for e in evidence if not e.flags), None)
        if top is None:
            return Draft("", ())
        rel_start, rel_end = (
            shortest_answering_span(question, top.text, self.keep_share, self.min_words)
            if self.cut
            else (0, len(top.text))
        )
        start, end = top.citation.start + rel_start, top.citation.start + rel_end
        text = top.text[rel_start:rel_end]
        return Draft(text, (top.id,), spans=((top.id, start, end),))
