"""The question-form rules, named in one registry so each can be switched off and measured.

Each rule was written for one form of question ("Who is X?", "What happened in X?", "What did X
say?") and keeps or refuses candidate sentences by structure. The general reader (`rag.reader`)
ranks whatever the enabled rules keep. `RAG_DISABLE_FORMS=name,name` (`Settings.disabled_forms`)
switches rules off; `rag eval --ablate` switches each off in turn and writes what it changes on
dev, gold and an external set (`eval/reports/latest/ablation.md`), so a rule that helps only the
questions it was written on can be found and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.errors import RagError


@dataclass(frozen=True)
class Form:
    name: str
    asks: str  # the question form it was written for
    rule: str  # what it demands of a sentence
    home: str  # where the check lives


FORMS: dict[str, Form] = {
    f.name: f
    for f in (
        Form(
            "unknown_name",
            "any question naming someone or something",
            "refuse when no article mentions the name",
            "rag.answerability.unknown_names",
        ),
        Form(
            "figure_kind",
            "How much / how many / what share / when ...?",
            "the sentence states the kind of figure asked for",
            "rag.answerability.stating_kind",
        ),
        Form(
            "period",
            "questions fixing a year (What were X's costs in 2025?)",
            "a sentence giving another year, and not the asked one, does not answer",
            "rag.answerability.meeting_period",
        ),
        Form(
            "speaker",
            "What did X say / think / plan ...?",
            "X speaks or holds the position in the sentence; another speaker is named as such",
            "rag.attribution._speaker_verdict",
        ),
        Form(
            "figure_owner",
            "How many N does X have?",
            "the figure counts N and is X's",
            "rag.attribution._figure_verdict",
        ),
        Form(
            "thing_mentioned",
            "What is the X of Y? / Is there an X?",
            "the sentence mentions the thing asked about",
            "rag.attribution.attribute",
        ),
        Form(
            "named_type",
            "Which party / country / city ...? Where ...? How old ...?",
            "the sentence names one of the kind asked, not the one the question names",
            "rag.attribution._names_what_is_asked",
        ),
        Form(
            "actor_named",
            "Which companies of X ...? (an actor in a question that is not a statement)",
            "the sentence names X, or X speaks in it",
            "rag.selection.SentenceFacts.select",
        ),
        Form(
            "about",
            "What did X say about Y?",
            "X's sentence says something of Y",
            "rag.selection.SentenceFacts._on_topic",
        ),
        Form(
            "deed",
            "Which N did X do?",
            "the sentence shares a word of the deed besides X and N",
            "rag.selection.SentenceFacts._deed_asked",
        ),
        Form(
            "happened_at",
            "What happened in / at / to X?",
            "the sentence names X and tells of something done there",
            "rag.selection.SentenceFacts._tells_what_happened",
        ),
        Form(
            "speaker_first",
            "What did X say / think ...?",
            "sentences X speaks come before sentences that only name X",
            "rag.selection.SentenceFacts.select",
        ),
        Form(
            "wording",
            "How did X describe Y? What did X call Y?",
            "a sentence quoting X comes first",
            "rag.selection.SentenceFacts.select",
        ),
    )
}


class UnknownFormError(RagError):
    """RAG_DISABLE_FORMS names a form the registry does not have."""


def disabled_forms(value: str | tuple[str, ...] | frozenset[str] | None) -> frozenset[str]:
    """The forms named in `value` (comma-separated, or a collection); an unknown name is an error
    that lists the known ones."""
    names = value.split(",") if isinstance(value, str) else list(value or ())
    chosen = frozenset(n.strip() for n in names if n.strip())
    unknown = sorted(chosen - FORMS.keys())
    if unknown:
        raise UnknownFormError(
            f"unknown question form(s) {', '.join(unknown)} in RAG_DISABLE_FORMS; known: {', '.join(FORMS)}"
        )
    return chosen


__all__ = ["FORMS", "Form", "UnknownFormError", "disabled_forms"]
