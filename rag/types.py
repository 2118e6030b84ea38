"""The values the API returns: small, frozen, and serialisable to the CLI's JSON.

`Answer.to_dict()` *is* the JSON contract of `rag ask --json`; tests pin its keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Citation:
    """An exact span of an article. Build these with `rag.spans.cite`, which checks the slice."""

    doc_id: str
    source: str
    start: int
    end: int
    text: str
    # Spans in *other* articles that state the same thing (near-duplicate reporting). They are
    # corroboration, not independent confirmation: see rag.dedup.
    corroborated_by: tuple["Citation", ...] = ()
    # Set when the span holds text that reads as instructions to an AI rather than news
    # (`index.injection`): quoted material, never support an answer may lead with.
    flags: tuple[str, ...] = ()
    # Who the article says is speaking in the cited sentence (`index.analysis`), when it says.
    speaker: str | None = None
    # When the article was published (YYYY-MM-DD: its page, feed entry, JSON line or the corpus
    # manifest), '' when unknown: answers to "latest" questions and conflicts order by it.
    published: str = ""

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end) or len(self.text) != self.end - self.start:
            raise ValueError(f"citation {self.source}:{self.start}-{self.end} does not match its text")

    @property
    def label(self) -> str:
        return f"{self.source}:{self.start}-{self.end}"

    def to_dict(self) -> dict:
        out = {"doc_id": self.doc_id, "source": self.source, "start": self.start, "end": self.end, "text": self.text}
        out["published"] = self.published
        # Same story retold by another article: corroboration, not independent confirmation.
        out["corroborated_by"] = [
            {**c.to_dict(), "relation": "same_story", "independent": False} for c in self.corroborated_by
        ]
        if self.flags:  # additive: absent for the ordinary, unflagged citation
            out["flags"] = list(self.flags)
        if self.speaker:  # additive: absent when the article names no speaker
            out["speaker"] = self.speaker
        return out


@dataclass(frozen=True)
class Evidence:
    """A numbered sentence shown to a backend; backends answer with these ids, never offsets."""

    id: int
    citation: Citation
    score: float = 0.0  # relevance to the question, 0..1 (see rag.evidence)
    dense: float = 0.0
    lexical: float = 0.0

    @property
    def text(self) -> str:
        return self.citation.text

    @property
    def flags(self) -> tuple[str, ...]:
        """Non-empty when the sentence reads as instructions to an AI: it must not lead an answer."""
        return self.citation.flags


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores, for display and for evaluation."""

    citation: Citation
    score: float
    dense: float | None = None
    bm25: float | None = None
    rank: int = 0

    def to_dict(self) -> dict:
        return {
            **self.citation.to_dict(),
            "score": round(self.score, 6),
            "rank": self.rank,
            "dense": None if self.dense is None else round(self.dense, 6),
            "bm25": None if self.bm25 is None else round(self.bm25, 6),
        }


# How another independent source's statement relates to the answer's lead (rag.agreement).
# A conflicting statement from an article dated on another day than the answer's is "superseded"
# (older: the answer's article revises it) or "revises" (newer: it revises the answer's figure).
RELATIONS = ("agrees", "adds", "conflicts", "superseded", "revises")


@dataclass(frozen=True)
class Statement:
    """What another independent source says on the question, beside the answer's lead."""

    speaker: str | None  # who the article quotes in the sentence, when it says
    actor: str | None  # the country or body the speaker stands for, when known
    relation: str  # one of RELATIONS
    citation: Citation

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {self.relation!r}")

    def to_dict(self) -> dict:
        return {
            "speaker": self.speaker,
            "actor": self.actor,
            "relation": self.relation,
            "citation": self.citation.to_dict(),
        }


@dataclass(frozen=True)
class Side:
    """One source's value in a conflict: who states it, the figure as written and its reference.

    `number` is the reference shown to readers: the answer's citation [n], or, for a statement,
    len(answer.citations) + its position in `Answer.statements` (see `Answer.references`).
    """

    who: str
    value: str
    number: int
    citation: Citation
    published: str = ""  # the article's date when the corpus manifest gives it

    @property
    def text(self) -> str:
        dated = f" (article of {self.published})" if self.published else ""
        return f"{self.who} {_says(self.who)} {self.value} [{self.number}]{dated}"

    def to_dict(self) -> dict:
        return {
            "who": self.who,
            "value": self.value,
            "number": self.number,
            "published": self.published,
            "citation": self.citation.to_dict(),
        }


def _says(who: str) -> str:
    """ "officials say", "the minister says": a lower-case plural noun last takes the plural verb."""
    last = who.split()[-1] if who.split() else ""
    return "say" if last.islower() and last.endswith("s") and not last.endswith("ss") else "says"


def is_day(published: str) -> bool:
    """Whether `published` is a date answers can order by (YYYY-MM-DD, as the readers write it)."""
    return len(published) == 10 and published[4] == "-" and published[7] == "-" and published.replace("-", "").isdigit()


def day_label(published: str) -> str:
    """ "2025-12-03" -> "3 Dec 2025"; anything else as it is."""
    try:
        year, month, day = (int(x) for x in published[:10].split("-"))
        return f"{day} {_MONTHS[month - 1]} {year}"
    except (ValueError, IndexError):
        return published


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Conflict:
    """Two independent sources giving different values for one quantity (measure, owner, period).

    When both articles are dated the sides are in date order, older first; if their days differ
    the newer article revises the older figure, which is `superseded`, not a contradiction."""

    measure: str
    owner: str
    period: str
    first: Side
    second: Side
    superseded: bool = False  # the first (older) side's figure is revised by the second's

    @property
    def text(self) -> str:
        if self.superseded:
            older, newer = self.first, self.second
            return (
                f"Revised: on {day_label(older.published)} {older.who} said {older.value} [{older.number}]; "
                f"on {day_label(newer.published)} {newer.who} said {newer.value} [{newer.number}], "
                "the newer figure (the older one is superseded)"
            )
        return f"Sources differ: {self.first.text}, {self.second.text}"

    def to_dict(self) -> dict:
        return {
            "measure": self.measure,
            "owner": self.owner,
            "period": self.period,
            "text": self.text,
            "superseded": self.superseded,
            "newer": self.second.number if self.superseded else None,
            "sides": [self.first.to_dict(), self.second.to_dict()],
        }


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    backend: str
    timings: dict[str, float] = field(default_factory=dict)
    passages: tuple[Passage, ...] = ()
    support: float = 0.0  # best evidence score behind the answer
    # Set by citation verification (rag.verify): True when every citation slices exactly and
    # every figure is stated in what its sentence cites; False when the backend's answer failed
    # (see fallback_reason); None for an abstention, where nothing was claimed.
    verified: bool | None = None
    fallback_reason: str = ""
    claims: tuple[dict, ...] = ()  # per sentence: text, citation numbers, figures and support
    # "verified" (first try), "repaired" (after one repair), "fallback" (the extractive answer
    # replaced a failed one), "failed" (no fallback was possible), "" (abstained).
    verification: str = ""
    # The answer card (rag.agreement): other independent sources' statements, and where two
    # sources give different values for the same quantity. Empty for an abstention.
    statements: tuple[Statement, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    # For an abstention: the passages that came closest, as exact spans, labelled "closest passages,
    # not an answer" wherever they are shown, so a refusal still says where to read on.
    closest: tuple[Citation, ...] = ()
    # Why it abstained, one code of `rag.stages.decide.Refusal` ("unknown_name", "structure", "low_support").
    refusal_reason: str = ""
    # The short answer (`rag.short_answer`): the words of the first citation that fill the
    # question's gap ("France"), an exact span of its own; None when the question asks for no typed
    # filler (a reason, a statement) or the cited sentence holds none.
    short: Citation | None = None
    # How the engine decided (`Decision.trace`): shown by `rag ask --json --debug`, not in to_dict.
    trace: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def references(self) -> tuple[Citation, ...]:
        """Everything a reader can follow by number: the citations [1..n], then each statement's span."""
        return (*self.citations, *(s.citation for s in self.statements))

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "backend": self.backend,
            "citations": [c.to_dict() for c in self.citations],
            "support": round(self.support, 4),
            "verified": self.verified,
            "fallback_reason": self.fallback_reason,
            "claims": list(self.claims),
            "verification": self.verification,
            "statements": [s.to_dict() for s in self.statements],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "closest": [c.to_dict() for c in self.closest],
            "refusal_reason": self.refusal_reason,
            "short_answer": None if self.short is None else self.short.to_dict(),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
