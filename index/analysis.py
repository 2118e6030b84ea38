"""What a sentence says about who speaks, who acts and what each figure counts.

These records are computed once per sentence when the index is built (`index/sentence_analysis.py`, spaCy)
and stored with the sentence, so answering never parses text. They are the contract between
the index and the answer side (`rag/question.py`, `rag/attribution.py`): names are kept as the
article writes them (surface strings) and matched through `index/aliases.py` (demonyms, capitals,
titles read from the articles), so nothing here is specific to one corpus.

Offsets are absolute Python string offsets into the document text, like every span in the index.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Speaker:
    """Someone the sentence quotes or reports ("X said", "according to X", a quote then "he said").

    `name` is the fullest form the article gives (a pronoun is resolved to the last named person);
    `affiliation` is the country or body the article ties them to by title or apposition
    ("Ukrainian President ...", "..., the German chancellor"), as written ("Ukrainian"), or None.
    """

    name: str
    affiliation: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "affiliation": self.affiliation}

    @classmethod
    def from_dict(cls, data: dict) -> "Speaker":
        return cls(data["name"], data.get("affiliation"))


@dataclass(frozen=True)
class Figure:
    """A figure stated in the sentence, what it measures and whose it is.

    `kind` is one of `FIGURE_KINDS`; `measure` is the lemma of the noun the figure quantifies
    ("troop", "cost", "country", "output"), or None; `owner` is the actor the figure belongs to as
    written ("Ukraine", "Russia's", "Germany"), or None when the sentence does not say.
    """

    text: str
    start: int
    end: int
    kind: str
    measure: str | None = None
    owner: str | None = None

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "measure": self.measure,
            "owner": self.owner,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Figure":
        return cls(
            data["text"], int(data["start"]), int(data["end"]), data["kind"], data.get("measure"), data.get("owner")
        )


FIGURE_KINDS = ("money", "percent", "count", "date")
# Raised whenever index/sentence_analysis.py (and the modules it calls) would analyse the same text differently: it is part of the index
# key (`ChunkSettings.to_dict`), so an index analysed by older rules is stale and rebuilt.
ANALYSIS_VERSION = 3


@dataclass(frozen=True)
class SentenceAnalysis:
    """Speakers, actors (subjects, possessors and owners of what is counted) and figures."""

    speakers: tuple[Speaker, ...] = ()
    actors: tuple[str, ...] = ()
    figures: tuple[Figure, ...] = ()
    # Lemmas of the sentence's content words, so question matching needs no parser at answer time.
    lemmas: tuple[str, ...] = field(default=(), compare=False)
    # The named entities as (spaCy label, text): ("ORG", "the Velmora Institute"), ("GPE", "Lima"). A
    # question asking "which party" or "where" is answered only by a sentence naming one.
    entities: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def to_dict(self) -> dict:
        return {
            "speakers": [s.to_dict() for s in self.speakers],
            "actors": list(self.actors),
            "figures": [f.to_dict() for f in self.figures],
            "lemmas": list(self.lemmas),
            "entities": [list(e) for e in self.entities],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "SentenceAnalysis":
        return cls(
            tuple(Speaker.from_dict(s) for s in data.get("speakers", ())),
            tuple(data.get("actors", ())),
            tuple(Figure.from_dict(f) for f in data.get("figures", ())),
            tuple(data.get("lemmas", ())),
            tuple((str(label), str(text)) for label, text in data.get("entities", ())),
        )
