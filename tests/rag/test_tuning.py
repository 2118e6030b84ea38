"""Tuning numbers live in one place (`rag.tuning`), and an engine's tuning reaches its stages."""

import re
from dataclasses import replace
from pathlib import Path

from rag import Engine

RAG = Path(__file__).resolve().parents[2] / "rag"
_NUMBER = re.compile(r"^_?[A-Z][A-Z0-9_]*\s*(?::\s*\w+\s*)?=\s*-?[0-9][0-9_.]*\b", re.MULTILINE)

# Module-level numbers that bound work or time rather than choose answers (cache sizes, retry
# counts, time budgets, output limits, parsing windows), or that belong to the language layer's
# reading of words. Each names the file it stays in.
NOT_TUNING = {
    "answerability.py": {"NAME_PREFIX"},  # the language layer's demonym match ("Belgian" by "Belgium")
    "backends/base.py": {"DEFAULT_TIMEOUT_S", "DEFAULT_RETRIES", "DEFAULT_MAX_TOKENS", "DEFAULT_MAX_EVIDENCE"},
    "backends/llm.py": {"BACKOFF_S"},
    "backends/local.py": {"STARTUP_TIMEOUT_S", "PARENT_POLL_S"},
    "cli.py": {"LINE_BYTES_PER_CHAR"},
    "conversation.py": {"MAX_FOLLOW_UP_WORDS"},  # the language layer's follow-up cue
    "evidence.py": {"ARTICLE_CACHE"},
    "integrations/llama_index.py": {"MAX_ANSWER_CHARS"},
    "markers.py": {"_WORD_WINDOW"},
    "opening.py": {"REOPEN_ATTEMPTS"},
    "progress.py": {"PLAIN_INTERVAL_S"},
    "selection.py": {"PARSED_VERDICTS"},
    "stages/draft.py": {"MAX_BACKENDS"},
    "thesaurus.py": {"MAX_SENSES"},  # the language layer's WordNet reading
    "verify.py": {"_CONTEXT_CHARS", "_MAX_NAME_WORDS"},
    "watch.py": {"STEP_MS", "DEBOUNCE_MS"},
}


def test_numeric_knobs_are_tuning_fields_not_module_constants():
    found = {
        path.relative_to(RAG).as_posix(): {
            m.group(0).split("=")[0].split(":")[0].strip() for m in _NUMBER.finditer(path.read_text(encoding="utf-8"))
        }
        for path in sorted(RAG.rglob("*.py"))
        if path.name != "tuning.py"
    }
    stray = {f: names - NOT_TUNING.get(f, set()) for f, names in found.items() if names - NOT_TUNING.get(f, set())}
    assert stray == {}, f"move these into rag.tuning.Tuning (or say why they are not tuning): {stray}"


def test_the_engine_hands_its_tuning_to_the_stages(engine):
    tuned = Engine(engine.settings, engine.corpus, engine.store, engine.embedder, tuning=replace(engine.tuning, closest=1))
    refused = tuned.ask("What did the Pope say about the framework?")
    assert refused.abstained and len(refused.closest) == 1
    assert len(engine.ask("What did the Pope say about the framework?").closest) > 1
    assert tuned.retriever.stories.repeat_share == tuned.tuning.repeat_share
