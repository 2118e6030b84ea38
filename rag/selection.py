"""Which evidence may answer a question, judged on structure: who speaks, whose figure, what it counts.

Word overlap answers "How many troops does X have?" with Y's army size and "What did X say?" with
a quote from Y. The index stores each sentence's analysis (`index.analysis`: speakers, actors,
figures with measure and owner); here the question's `Ask` (`rag.question`) is held against it
(`rag.attribution`), and only sentences that answer for the asked actor and measure stay
evidence. When none does:

- for a statement or position question that someone *else* answers in the corpus, the answer says
  so plainly and names the real speaker ("The articles do not quote X on this; Y said: ...");
- otherwise the engine abstains and says what is missing ("The articles give no troop figure for X").

Questions that ask neither for a statement, a position nor a figure pass through unchanged, and
the support thresholds in the engine decide them, unless they name what the answer must hold: an
actor or a thing ("Which Japanese companies ...?"), the deed of "Which N did X do?", or the place
of "What happened in X?" (a told event there, `_told_as_done`). Each rule is a named form in
`rag.forms`, switchable for measuring. ("Who is X?" once needed a sentence describing X: it helped
only the dev items written for it and cost answers on outside text, so it went.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from index.aliases import ActorIndex, general_actor
from index.analysis import SentenceAnalysis
from index.chunking import Sentence, TextUnit
from index.search_table import Store
from index.store import actors_of
from index.terms import tokenize
from index.unit_table import UnitSpans
from rag.attribution import (
    MATCH,
    NO_ACTOR_INFO,
    WRONG_SPEAKER,
    Attribution,
    attribute,
    confirms,
    names_actor,
    notice,
    spoken_by_asked,
)
from rag.evidence import refers_back
from rag.question import Ask, analyse_question, parse
from rag.types import Citation, Evidence

if TYPE_CHECKING:
    pass

# Nouns that say something happened without saying what: "due to recent events in X".
PLACEHOLDER_EVENTS = frozenset(
    "event development happening incident occurrence situation circumstance matter affair thing".split()
)
# Asks judged on structure; an "other" question ("what is the weather in X?", "which of X's
# companies ...?") is held only to the thing and the actor it asks about, when it names them.
STRUCTURED_RELATIONS = ("statement", "position", "figure")


@dataclass(frozen=True)
class Selection:
    """The evidence allowed to answer, best first and renumbered, and what to tell the reader."""

    evidence: list[Evidence]
    # Set when nothing may answer: the abstention text.
    refusal: str | None = None
    # For a statement or position question: the best sentence in which someone *else* says it,
    # and the notice naming them, used when the asked actor's own sentences do not answer.
    other: list[Evidence] = field(default_factory=list)
    notice: str | None = None
    verdicts: tuple[Attribution, ...] = ()
    # The evidence whose figure the structure confirms (`rag.attribution.confirms`): it may answer
    # with less support.
    confirmed: frozenset[Citation] = frozenset()


class SentenceFacts:
    """Each indexed sentence's analysis, found by span, and the actor index built from them all.

    Built from a list of sentences, or from a store's sentence table (`of_store`), whose rows are
    read only when a span is looked up and whose actor index was persisted with it."""

    def __init__(
        self,
        sentences: Sequence[TextUnit],
        spans: UnitSpans | None = None,
        actors: ActorIndex | None = None,
        disabled: frozenset[str] = frozenset(),
    ):
        self._units = sentences
        # Question-form rules switched off (`rag.forms`): they keep every sentence.
        self.disabled = disabled
        self._spans = spans if spans is not None else UnitSpans.of(sentences)
        self.actors = actors if actors is not None else actors_of(sentences)

    @classmethod
    def of_store(cls, store: Store, disabled: frozenset[str] = frozenset()) -> "SentenceFacts":
        return cls(store.sentences.units, store.sentences.spans, store.actor_index(), disabled)

    def analysis(self, doc_id: str, start: int, end: int) -> SentenceAnalysis:
        """The analysis of the sentence holding `start` (a clause lies inside one sentence)."""
        row = self._spans.holding(doc_id, start)
        unit = self._units[row] if row is not None else None
        if isinstance(unit, Sentence) and unit.analysis is not None:
            return unit.analysis
        return SentenceAnalysis()

    def _before(self, e: Evidence) -> str:
        """The sentence before `e` in its article, "" when it is the first."""
        row = self._spans.holding(e.citation.doc_id, e.citation.start)
        if not row:
            return ""
        unit = self._units[row - 1]
        return unit.text if unit.doc_id == e.citation.doc_id else ""

    def speaker(self, citation: Citation) -> str | None:
        speakers = self.analysis(citation.doc_id, citation.start, citation.end).speakers
        return speakers[0].name if speakers else None

    def with_speaker(self, citation: Citation) -> Citation:
        """`citation` naming the speaker of its sentence, when the article says who speaks."""
        speaker = self.speaker(citation)
        return replace(citation, speaker=speaker) if speaker != citation.speaker else citation

    def _on_topic(self, ask: Ask, e: Evidence) -> bool:
        """For a statement or position question, the sentence must share a word of what was asked
        about besides the speaker: the asked person's words on another subject do not answer
        ("What did X say about Y?" is not answered by X on Z). Likewise the deed of "Which N did X
        do?" and the told event of "What happened in X?"."""
        off = self.disabled
        if ask.relation == "other" and ask.named and ask.actor is not None:
            deed = _terms(self._deed_asked(ask))
            return "deed" in off or not deed or bool(_terms(self._said(e)) & deed)
        if ask.happened_at:
            return "happened_at" in off or self._tells_what_happened(ask, e)
        if ask.relation not in ("statement", "position") or not ask.topic or "about" in off:
            return True
        return bool(self._said(e) & self._asked_about(ask))

    def _tells_what_happened(self, ask: Ask, e: Evidence) -> bool:
        """For "What happened in X?": the sentence names X, and tells of something that happened
        there, not of "events in X" (which says only that something did) nor of what would."""
        said = self._said(e) | _terms([e.text])
        if not all(_topic_words([w]) & said or _terms([w]) <= said for w in ask.happened_at):
            return False
        return _told_as_done(ask.happened_at[0].lower(), e.text)

    def _deed_asked(self, ask: Ask) -> set[str]:
        """For "Which N did X do?": the words of what X did, without X and N. A sentence naming X
        and some N ("NATO chief X met leaders of Peru") does not say X did it: the answer must
        share a word of the deed ("govern", "found"), in any of its forms."""
        assert ask.actor is not None and ask.named is not None
        naming = _topic_words(
            (*ask.actor_words, *ask.actor.text.split(), *ask.actor.canonical.split(), *(ask.actor.person or "").split())
        )
        return _topic_words(ask.topic) - naming - {ask.named}

    def _said(self, e: Evidence) -> set[str]:
        """The words a sentence says something about, as `_topic_words`."""
        analysis = self.analysis(e.citation.doc_id, e.citation.start, e.citation.end)
        # Who speaks is not what they speak about: "Ana Ruiz, Peruvian President, added ..."
        # does not make a sentence about France.
        speaking = _topic_words(
            w for sp in analysis.speakers for w in (*sp.name.split(), *([sp.affiliation] if sp.affiliation else ()))
        )
        # The figures it states are what it says too ("2026 could be the year ..."): the lemmas
        # keep words only.
        figures = (w for f in analysis.figures for w in f.text.split())
        return _topic_words((*analysis.lemmas, *analysis.actors, *figures)) - speaking

    def _asked_about(self, ask: Ask) -> set[str]:
        if ask.about:
            # "What did X say about the hubs Y and Z would set up?" is about hubs: countries and
            # people in Y name who is involved, and count only when Y names nothing else.
            things = [w for w in ask.about if not self.actors.is_known(w)]
            return _topic_words(things or ask.about)
        return _topic_words(ask.topic)

    def _said_by_someone_else(self, ask: Ask, own: Evidence, other: Evidence) -> bool:
        """For "What did X say about Y?": whether another speaker's sentence states Y, and X's best
        sentence only touches it. When the other sentence has more of Y's words and more support,
        Y is that speaker's statement ("2026 could be the year the war ends", said by someone
        else, is not answered by X's "war costs next year"): the answer names who said it."""
        if not ask.about or other.score <= own.score:
            return False
        about = self._asked_about(ask)
        return len(self._said(other) & about) > len(self._said(own) & about)

    def ask(self, question: str) -> Ask:
        return analyse_question(question, self.actors)

    def speaker_terms(self, ask: Ask) -> Callable[[TextUnit], frozenset[str]] | None:
        """For a statement or position question: the search terms of the words naming the asked
        actor ("French president"), met by every sentence the asked actor speaks, however it
        names them ("Ana Ruiz said", "he said"). For `EvidenceScorer.score(met=...)`."""
        if ask.relation not in ("statement", "position") or ask.actor is None or not ask.actor_words:
            return None
        words = frozenset(tokenize(" ".join(ask.actor_words)))

        def met(unit: TextUnit) -> frozenset[str]:
            spoken = spoken_by_asked(ask, self.analysis(unit.doc_id, unit.start, unit.end), self.actors)
            return words if spoken else frozenset()

        return met

    def select(self, ask: Ask, evidence: Sequence[Evidence]) -> Selection:
        """Keep the evidence that answers `ask` for its actor and measure; see the module doc."""
        if (
            not evidence
            or ask.relation not in STRUCTURED_RELATIONS
            and not (ask.relation == "other" and (ask.measure or ask.actor or ask.named or ask.happened_at))
        ):
            return Selection(list(evidence))
        off = self.disabled
        verdicts = tuple(
            attribute(ask, self.analysis(e.citation.doc_id, e.citation.start, e.citation.end), self.actors, off)
            for e in evidence
        )
        on_topic = [self._on_topic(ask, e) for e in evidence]
        if ask.relation == "other" and ask.actor is not None and "actor_named" not in off:
            # "Which Japanese companies will fund X?" is about Japan's companies: a sentence on X's
            # funding that never names Japan does not answer it, however close its words are.
            # The actor may also be the sentence's speaker under a pronoun ("He called it ...").
            # A sentence that refers back ("They spread ...") is held to the sentence before it.
            verdicts = tuple(
                v
                if names_actor(ask, e.text, self.actors)
                or spoken_by_asked(ask, self.analysis(e.citation.doc_id, e.citation.start, e.citation.end), self.actors)
                or (refers_back(e.text) and names_actor(ask, self._before(e), self.actors))
                else Attribution(NO_ACTOR_INFO)
                for e, v in zip(evidence, verdicts)
            )
        kept = [e for e, v, t in zip(evidence, verdicts, on_topic) if t and _answers(ask, v, self.actors)]
        if ask.relation in ("statement", "position") and "speaker_first" not in off:
            # What X said or thinks is told best where X speaks; a sentence that only names X
            # among its actors ("talks since X's invasion") comes after, whatever its word overlap.
            speaking = {e.citation for e, v in zip(evidence, verdicts) if v.verdict == MATCH and v.speaker is not None}
            kept.sort(key=lambda e: e.citation not in speaking)
        if ask.wording and "wording" not in off:
            # "How did X describe Y?" asks for X's words: a sentence quoting them comes first.
            kept.sort(key=lambda e: not _QUOTATION.search(e.text))
        other, said = [], None
        wrong = [
            (e, v) for e, v, t in zip(evidence, verdicts, on_topic) if t and v.verdict == WRONG_SPEAKER and not e.flags
        ]
        if wrong and ask.relation in ("statement", "position") and "speaker" not in off:
            other, said = _renumbered([wrong[0][0]]), notice(ask, wrong[0][1])
            if kept and self._said_by_someone_else(ask, kept[0], wrong[0][0]):
                kept = []
        confirmed = frozenset(
            e.citation
            for e, v in zip(evidence, verdicts)
            if confirms(ask, v, self.analysis(e.citation.doc_id, e.citation.start, e.citation.end), self.actors)
        )
        if kept or other:
            return Selection(_renumbered(kept), other=other, notice=said, verdicts=verdicts, confirmed=confirmed)
        first = next((v for v in verdicts if v.verdict != MATCH), verdicts[0])
        missing = _lower_first(notice(ask, first) or "The articles do not say.").rstrip(":.")
        return Selection([], refusal=f"The corpus does not cover this: {missing}.", verdicts=verdicts)


_QUOTATION = re.compile(r'[“"][^”"]{2,}[”"]')


# Sentence parses at question time are the slow part of these checks (about 5 ms each): their
# verdicts are kept per (words, sentence), for the same sentence met again in one answer (its
# twins, the someone-else check) and in later questions.
PARSED_VERDICTS = 4096


@lru_cache(maxsize=PARSED_VERDICTS)
def _told_as_done(head: str, text: str) -> bool:
    """Whether `text` tells of something done at `head` (a word of it, lower case), not of
    "events in X" (which says only that something did), of a plan ("would improve") or of a state
    ("disputes remain")."""
    for token in parse(text, names=False):
        if token.lower_ != head and token.lemma_.lower() != head:
            continue
        governor = token.head.head if token.head.dep_ == "prep" else token.head
        if governor.pos_ == "NOUN" and governor.lemma_.lower() in PLACEHOLDER_EVENTS:
            return False
        verbs = [v for v in (token, *token.ancestors) if v.pos_ in ("VERB", "AUX")]
        if any(t.tag_ == "MD" for v in verbs for t in v.children) or not any(v.tag_ in ("VBD", "VBN") for v in verbs):
            return False
    return True


def _terms(words: Iterable[str]) -> set[str]:
    """Words as search terms, so that "monitoring" meets "monitor" and "organisation" "organization"."""
    return set(tokenize(" ".join(words)))


def _topic_words(words: Iterable[str]) -> set[str]:
    """Words as matched for topic: lower case, and a country or body also by its actor name
    ("Europeans" and "Europe" meet as "europe")."""
    out = set()
    for w in words:
        out.add(w.lower())
        actor = general_actor(w)
        if actor is not None:
            out.add(actor.lower())
    return out


def _answers(ask: Ask, verdict: Attribution, actors: ActorIndex) -> bool:
    """A match answers. A figure whose owner the sentence does not name may answer a question that
    names no owner, or one whose owner no table or article resolves ("the agency's correspondent"),
    but never one asking for a known actor's figure ("How many troops does X have?")."""
    if verdict.verdict == MATCH:
        return True
    if verdict.verdict != NO_ACTOR_INFO or ask.relation != "figure":
        return False
    return ask.actor is None or not actors.is_known(ask.actor.text)


def _renumbered(evidence: list[Evidence]) -> list[Evidence]:
    return [replace(e, id=i + 1) for i, e in enumerate(evidence)]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:4] == "The " else text
