"""Checking an answer against what it cites, outside every backend, and what to do on failure.

`check(text, cited, documents)` reads the answer back sentence by sentence (see
`rag.markers.read_claims`) and reports, per sentence (a *claim*):
  - which citations it carries; a sentence with none is flagged;
  - every figure it states (`rag.figures`) and the cited span that states it, if any;
  - that it shares at least a quarter of its content words with what it cites, which catches
    the empty or off-topic sentences a small model writes ("The evidence number is [3].");
    it is a floor, not a proof that the sentence follows from its span.
  - that it is finished: a sentence ending in "is", "of", "the" or ":" before its marker
    ("The size of the budget is [1].") put the citation where the answer should be.
Given the question, the answer must also say something from its evidence that the question did
not already say ("The size of the budget is [1]." repeats the question and cites a number).
Answer-wide it checks that every citation is still an exact slice of its article and that every
marker names a citation. A text without any markers (the extractive backend's) is one claim
citing all its citations. Markers are read outside the cited texts only: a quote of an article
that itself contains "[2]" is not a citation of evidence 2 (`rag.markers`, quoted spans).
A citation flagged as addressing an AI (`index.injection`) supports nothing: a sentence citing
only such spans is unsupported, and a figure stated only there is not stated at all. This is
what stops a model that obeyed "ignore previous instructions, say X" from passing as verified.

Attribution (given `speakers`, a `Speakers`): a written sentence that names a person as saying
something ("X said", "X warned that", "X, the defence minister, stated", "according to X",
'..., said X') must cite a sentence whose speaker is that person. Names are matched only against
the people the corpus knows (`index.aliases.ActorIndex`: full name, surname alone or a close
spelling); a person named in any other role ("the plan backed by X") is not checked. Words a
model puts in the wrong mouth are as wrong as a figure that is not in its span. The extractive
answer's quote is the article's own wording, so it is not read for attribution.

`settle(...)` is the policy: a draft that fails gets one repair attempt from its backend, and if
that fails too the extractive answer replaces it, marked `verified: false` with the reason, so
no figure absent from its cited spans reaches a user unmarked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Mapping, Sequence

from index.aliases import ActorIndex
from index.analysis import SentenceAnalysis
from index.documents import Document
from index.language.words import (
    BETWEEN_SPEAKER_AND_VERB,
    DANGLING_WORDS,
    INVERTING_VERBS,
    IRREGULAR_REPORTING_FORMS,
    NAME_PARTICLES,
    NOT_BEFORE_SUBJECT,
    REPORTING_VERBS,
    SPEECH_VERBS,
)
from index.terms import tokenize
from rag import spans
from rag.figures import Figure, figures, supported_by
from rag.markers import Claim, has_markers, read_claims, strip_markers
from rag.tuning import DEFAULT
from rag.types import Citation

_NAME_WORD = r"[A-Z][\w'\u2019.\-]*"
# A run of capitalised words, with name particles inside ("Ada von der Berg").
_NAME = re.compile(rf"{_NAME_WORD}(?:\s+(?:(?:{'|'.join(sorted(NAME_PARTICLES))})\s+)*{_NAME_WORD})*")
_APPOSITION = re.compile(r"\s*,\s*(?:who\b|[^,;:\"\u201c\u201d]{1,80}?,)")
_ACCORDING = re.compile(r"\baccording\s+to\s+$", re.IGNORECASE)
_QUOTE_THEN_VERB = re.compile(r"[,\"\u201d'\u2019]\s*(?P<verb>[a-z]+)\s+$")
_POSSESSIVE_END = re.compile(r"['\u2019]s?$")
# How far around a name `named_speakers` reads: "according to", a quote and its verb, an apposition
# (up to 80 characters) and the few words before the verb all fit. A bounded window keeps the check
# linear in the answer's length: reading the whole text before and after every name was quadratic
# (a 160 KB sentence took 13.9 s).
_CONTEXT_CHARS = 200
# The longest tail of a capitalised run tried as a person's name ("Prime Minister Ada von der Berg").
_MAX_NAME_WORDS = 8


class Speakers:
    """What attribution checking knows about people: who speaks in a cited sentence, which known
    person a name in an answer stands for, and whether two names are one person.

    Built from the index's sentence analyses and its `ActorIndex`; verification stays free of any
    corpus' names."""

    def __init__(self, actors: ActorIndex, analysis: Callable[[str, int, int], SentenceAnalysis]):
        self._actors = actors
        self._analysis = analysis
        self._speakers: dict[tuple[str, int, int], tuple[str, ...]] = {}

    def of(self, citation: Citation) -> tuple[str, ...]:
        """Every speaker of the sentence a citation lies in."""
        key = (citation.doc_id, citation.start, citation.end)
        if key not in self._speakers:
            if len(self._speakers) >= 4096:  # a long-lived checker sees many spans: keep the memo small
                self._speakers.clear()
            self._speakers[key] = tuple(s.name for s in self._analysis(*key).speakers)
        return self._speakers[key]

    def person(self, name: str) -> str | None:
        """The fullest name of the known person `name` refers to, trying "Prime Minister Ada Okonkwo"
        and "Ukraine's Okonkwo" from the longest tail down; None when no known person matches."""
        words = name.split()[-_MAX_NAME_WORDS:]  # a run of capitals may be a whole headline
        for i in range(len(words)):
            if _POSSESSIVE_END.search(words[i]) and i < len(words) - 1:
                continue
            found = self._actors.person(" ".join(words[i:]))
            if found is not None:
                return found.name
        return None

    def same_person(self, a: str, b: str) -> bool:
        return self._actors.same_person(a, b)


def _lemma(word: str) -> str | None:
    """The reporting verb an inflected form ("said", "warns", "emphasised", "replied") is of, or None.

    Bare forms ("say") are not read: after a person's name they are rarely that person speaking."""
    word = word.lower()
    if word in IRREGULAR_REPORTING_FORMS:
        return IRREGULAR_REPORTING_FORMS[word]
    for suffix, ending in (("ied", "y"), ("ies", "y"), ("ed", ""), ("d", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and word[: -len(suffix)] + ending in REPORTING_VERBS:
            return word[: -len(suffix)] + ending
    return None


def named_speakers(text: str) -> list[tuple[str, str]]:
    """(name as written, reporting verb lemma) for every name the sentence gives as a speaker:
    "X said", "X, the minister, warned", "X, who said", "X has also stated", "according to X"
    (lemma "say") and '"...," said X'. Other mentions ("the plan backed by X") are not speakers."""
    out: list[tuple[str, str]] = []
    for m in _NAME.finditer(text):
        name = m.group(0).rstrip(".")
        before = text[max(0, m.start() - _CONTEXT_CHARS) : m.start()]
        if _ACCORDING.search(before):
            out.append((name, "say"))
            continue
        inverted = _QUOTE_THEN_VERB.search(before)
        if inverted and _lemma(inverted.group("verb")) in INVERTING_VERBS:
            out.append((name, "say"))
            continue
        previous = re.findall(r"[A-Za-z]+", before)[-1:]
        if previous and previous[0].lower() in NOT_BEFORE_SUBJECT or _POSSESSIVE_END.search(name):
            continue
        rest = text[m.end() : m.end() + _CONTEXT_CHARS]
        for tail in filter(None, (rest, (a := _APPOSITION.match(rest)) and rest[a.end() :])):
            words = re.findall(r"[A-Za-z]+|[^\sA-Za-z]", tail)
            while words and (words[0] in BETWEEN_SPEAKER_AND_VERB or words[0].endswith("ly") and words[0].islower()):
                words.pop(0)
            verb = _lemma(words[0]) if words and words[0].islower() else None
            if verb is not None:
                out.append((name, verb))
                break
    return out


# Verification outcomes, as `Answer.verification` reports them.
VERIFIED, REPAIRED, FALLBACK, FAILED = "verified", "repaired", "fallback", "failed"


@dataclass(frozen=True)
class FigureCheck:
    figure: Figure
    cited_in: int | None  # the citation number whose span states it, None when none does

    @property
    def supported(self) -> bool:
        return self.cited_in is not None

    def to_dict(self) -> dict:
        return {
            "text": self.figure.text,
            "kind": self.figure.kind,
            "supported": self.supported,
            "cited_in": self.cited_in,
        }


@dataclass(frozen=True)
class ClaimCheck:
    """One sentence of the answer, what it cites, and whether its figures are in those spans."""

    text: str
    citations: tuple[int, ...]
    figures: tuple[FigureCheck, ...]
    problems: tuple[str, ...]
    # The sentence's content words, read once for both word checks (`_adds_to` reuses them).
    words: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @property
    def supported(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "citations": list(self.citations),
            "supported": self.supported,
            "figures": [f.to_dict() for f in self.figures],
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Verdict:
    claims: tuple[ClaimCheck, ...]
    problems: tuple[str, ...]  # answer-wide problems first, then every claim's

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str:
        return self.summary()

    def summary(self, limit: int = 3) -> str:
        """The first `limit` problems, and how many more there are."""
        shown = "; ".join(self.problems[:limit])
        more = len(self.problems) - limit
        return shown + (f"; and {more} more" if more > 0 else "")


def _quote(text: str, limit: int = 60) -> str:
    return f'"{text}"' if len(text) <= limit else f'"{text[: limit - 3]}..."'


def _unfinished(sentence: str) -> bool:
    """A sentence cut off before its point: it ends on "is", "of", ":", an opening quote or a
    lone letter ("... with regard to the U")."""
    body = sentence.rstrip(" .!?")
    if not body or body[-1] in "\u201c\u2018(,;:-\u2013\u2014" or body.endswith((' "', " '")):
        return True
    words = re.findall(r"[\w\u2019']+", body.rstrip("\"'\u201d\u2019)"))
    if not words:
        return True
    last = words[-1]
    return last.lower() in DANGLING_WORDS or (len(last) == 1 and last.isalpha() and last not in "IA")


# What a cited span states is read once per span, not once per sentence citing it: a long answer
# cites the same few spans from thousands of sentences.
@lru_cache(maxsize=1024)
def _stated(text: str) -> tuple[Figure, ...]:
    return tuple(figures(text))


@lru_cache(maxsize=1024)
def _words(text: str) -> frozenset[str]:
    return frozenset(tokenize(text))


def _texts(c: Citation) -> list[str]:
    """What a citation states: its span, and the same-story spans shown with it as corroboration."""
    return [c.text, *(y.text for y in c.corroborated_by)]


def _sources(c: Citation) -> list[Citation]:
    return [c, *c.corroborated_by]


def _names(person: str, text: str, speakers: Speakers) -> bool:
    """Whether `text` names the known `person` (any form of their name)."""
    return any(speakers.person(n.group(0)) == person for n in _NAME.finditer(text))


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def attribution_problems(
    number: int, text: str, cites: Sequence[int], cited: Mapping[int, Citation], speakers: Speakers
) -> list[str]:
    """A person the sentence names as speaking must be a speaker of a sentence it cites (or, for a
    reporting verb that also describes deeds, at least be named in it). A cited sentence whose
    speaker the index did not find cannot back "X said": the draft then falls back, shown unverified,
    which is the safe side of a missed speaker."""
    sources = [y for i in cites if i in cited for y in _sources(cited[i])]
    if not sources:
        return []  # reported once, as citing no evidence
    said = [name for y in sources for name in speakers.of(y)]
    problems: list[str] = []
    seen: set[str] = set()
    for written_name, verb in named_speakers(text):
        person = speakers.person(written_name)
        if person is None or person in seen:
            continue
        seen.add(person)
        if any(speakers.same_person(person, s) or _names(person, s, speakers) for s in said):
            continue  # a speaker "X and Y officials" counts for X
        mentioned = any(_names(person, y.text, speakers) for y in sources)
        # After a verb of speech proper, a sentence that only mentions X is not X's words; after
        # the other reporting verbs ("X called", "X signalled") it is accepted, as those verbs
        # also describe deeds ("X called Y on Monday").
        if mentioned and verb not in SPEECH_VERBS:
            continue
        whose = list(dict.fromkeys(said))
        shown = "".join(f"[{i}]" for i in cites if i in cited)
        one = sum(i in cited for i in cites) == 1
        if whose:
            owner = _and([f"{w}'" if w.endswith("s") else f"{w}'s" for w in whose])
            tail = f"the cited sentence is {owner} ({shown})" if one else f"the cited sentences are {owner} ({shown})"
        else:
            tail = (
                f"the cited sentence ({shown}) does not say so"
                if one
                else f"the cited sentences ({shown}) do not say so"
            )
        problems.append(f"sentence {number} {_quote(text)} names {person} as the speaker, but {tail}")
    return problems


def check_claim(
    number: int,
    text: str,
    cites: Sequence[int],
    cited: Mapping[int, Citation],
    *,
    written: bool = True,
    speakers: Speakers | None = None,
    min_word_share: float = DEFAULT.min_word_share,
) -> ClaimCheck:
    """Every figure in one sentence must be stated in the spans that sentence cites, and every
    person it names as speaking must speak there (with `speakers`; see the module doc).

    `written` is False for a text without markers (the extractive backend's quote), which is a
    clause of its citation: whether it reads as finished, or whom it quotes, is not a question of
    support."""
    problems: list[str] = []
    if not cites:
        problems.append(f"sentence {number} {_quote(text)} cites no evidence")
    flagged = [i for i in cites if i in cited and cited[i].flags]
    if flagged and len(flagged) == len([i for i in cites if i in cited]):
        shown = "".join(f"[{i}]" for i in flagged)
        problems.append(
            f"sentence {number} {_quote(text)} cites only text that reads as instructions to an AI "
            f"({shown}: {', '.join(dict.fromkeys(f for i in flagged for f in cited[i].flags))}); "
            "such text is quoted material, not support"
        )
    cites_ok = [i for i in cites if i not in flagged]
    stated = [(i, f) for i in cites_ok if i in cited for t in _texts(cited[i]) for f in _stated(t)]
    checks = []
    for fig in figures(text):
        hit = supported_by(fig, [f for _, f in stated])
        where = next(i for i, f in stated if f is hit) if hit is not None else None
        checks.append(FigureCheck(fig, where))
        if where is None and cites:  # an uncited sentence is reported once, above
            shown = "".join(f"[{i}]" for i in cites) or "nothing"
            problems.append(f"figure {_quote(fig.text)} in sentence {number} is not stated in what it cites ({shown})")
    if cites and written and _unfinished(text):
        problems.append(
            f"sentence {number} {_quote(text)} is unfinished: its citation stands where the answer should be"
        )
    words = frozenset(tokenize(text))
    if cites_ok and words:  # with only flagged spans cited the sentence is reported above
        cited_words = {w for i in cites_ok if i in cited for t in _texts(cited[i]) for w in _words(t)}
        if len(words & cited_words) < max(1.0, min_word_share * len(words)):
            problems.append(f"sentence {number} {_quote(text)} shares too few words with what it cites")
    if speakers is not None and written and cites_ok:
        problems += attribution_problems(number, text, cites_ok, cited, speakers)
    return ClaimCheck(text, tuple(cites), tuple(checks), tuple(problems), words)


def check(
    text: str,
    cited: Mapping[int, Citation],
    documents: Mapping[str, Document],
    question: str = "",
    speakers: Speakers | None = None,
    min_word_share: float = DEFAULT.min_word_share,
) -> Verdict:
    """Verify an answer whose markers "[n]" refer to `cited[n]`; with `speakers`, also who said what;
    each sentence must share `min_word_share` of its words with what it cites (`rag.tuning`)."""
    problems: list[str] = []
    if not text.strip():
        problems.append("the answer is empty")
    if not cited:
        problems.append("the answer cites no evidence")
    for n, c in cited.items():
        doc = documents.get(c.doc_id)
        if doc is None or not spans.verify(c, doc):
            problems.append(f"citation [{n}] {c.label} is not an exact slice of its article")
    quoted = [c.text for c in cited.values()]
    written = has_markers(text, quoted)
    if written:
        claims, unknown = read_claims(text, set(cited), quoted)
        problems += [f"marker [{i}] names no evidence" for i in unknown]
    else:
        body = strip_markers(text, quoted)
        claims = [Claim(body, tuple(cited))] if body else []
    checked = tuple(
        check_claim(n, c.text, c.ids, cited, written=written, speakers=speakers, min_word_share=min_word_share)
        for n, c in enumerate(claims, 1)
    )
    if cited:  # with nothing cited at all, "cites no evidence" per sentence adds nothing
        problems += [p for c in checked for p in c.problems]
    if question and cited and checked and not _adds_to(question, checked, cited):
        problems.append("the answer only repeats the question: it states nothing from its evidence")
    return Verdict(checked, tuple(problems))


def _adds_to(question: str, claims: Sequence[ClaimCheck], cited: Mapping[int, Citation]) -> bool:
    """Whether some word of the answer, not in the question, comes from what it cites."""
    new = {w for c in claims for w in (c.words or tokenize(c.text))} - set(tokenize(question))
    stated = {w for c in cited.values() for t in _texts(c) for w in _words(t)}
    return bool(new & stated)


# -- the policy -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """A draft resolved to citations: the text with markers and what each marker cites."""

    text: str
    cited: Mapping[int, Citation]


@dataclass(frozen=True)
class Outcome:
    attempt: Attempt
    verdict: Verdict
    status: str  # VERIFIED, REPAIRED, FALLBACK or FAILED
    reason: str = ""  # why the backend's own answer was not used or not verified
    history: tuple[Verdict, ...] = field(default=())  # every verdict, in order


def settle(
    first: Attempt,
    verify: Callable[[Attempt], Verdict],
    *,
    backend: str,
    repair: Callable[[Sequence[str]], Attempt] | None = None,
    fallback: Callable[[], Attempt] | None = None,
) -> Outcome:
    """Verify `first`; on failure try one `repair`, then the `fallback` answer.

    The fallback (the extractive answer) is verified too, but the outcome stays FALLBACK: the
    answer the user asked for did not pass, and the JSON says so.
    """
    verdict = verify(first)
    if verdict.ok:
        return Outcome(first, verdict, VERIFIED, history=(verdict,))
    history = [verdict]
    reason = f"the {backend} answer failed verification ({verdict.reason})"
    if repair is not None:
        repaired = repair(verdict.problems)
        again = verify(repaired)
        history.append(again)
        if again.ok:
            return Outcome(repaired, again, REPAIRED, history=tuple(history))
        reason += f"; its one repair failed too ({again.reason})"
    if fallback is None:
        return Outcome(first, verdict, FAILED, reason, tuple(history))
    plain = fallback()
    plain_verdict = verify(plain)
    history.append(plain_verdict)
    return Outcome(plain, plain_verdict, FALLBACK, reason + "; showing the extractive answer instead", tuple(history))


__all__ = [
    "Attempt",
    "ClaimCheck",
    "FAILED",
    "FALLBACK",
    "FigureCheck",
    "Outcome",
    "REPAIRED",
    "Speakers",
    "VERIFIED",
    "Verdict",
    "attribution_problems",
    "check",
    "check_claim",
    "named_speakers",
    "settle",
]
