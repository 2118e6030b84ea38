"""The default backend: no model. It answers with the best evidence sentence, whole.

It used to cut the sentence to its shortest clause still holding the question's terms. Measured
with the cut switched off (`rag eval --ablate`, 2026-12-07), no dev or gold answer changed and
one outside answer was right only whole, so the cut went; the short answer
(`rag.short_answer`) now gives the few words a question asks for, and the sentence their context.

A sentence flagged as reading like instructions to an AI (`index.injection`) is never the answer,
whatever its score. The draft is the quote alone, without markers: verification reads a text
quoting its citation word for word as one claim citing it, so a literal "[2]" inside the article
sentence is text, not a marker (`rag.markers`, quoted spans)."""

from __future__ import annotations

from typing import Sequence

from rag.backends.base import Backend, BackendOptions, Deadline, Draft
from rag.types import Evidence


class ExtractiveBackend(Backend):
    """Needs nothing and never fails: also the fallback the engine shows when a draft fails."""

    name = "extractive"

    @classmethod
    def options_key(cls, options: BackendOptions) -> BackendOptions:
        return BackendOptions()  # no option changes what it writes

    def draft(self, question: str, evidence: Sequence[Evidence], *, deadline: Deadline | None = None) -> Draft:
        top = next((e for e in evidence if not e.flags), None)
        if top is None:
            return Draft("", ())
        return Draft(top.text, (top.id,), spans=((top.id, top.citation.start, top.citation.end),))
