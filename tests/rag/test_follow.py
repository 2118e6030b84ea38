"""A running engine takes the index generation another process saved (`Engine.follow`), and
declines one that no longer matches the corpus instead of reloading it for every question."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rag import Engine, Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "news"
NEW = {"title": "Iceland opens a geothermal plant", "published": "2025-12-11",
       "text": "Iceland opened a geothermal plant at Hellisheidi on Thursday that will heat 12,000 homes."}
QUESTION = "How many homes will the new Hellisheidi geothermal plant heat?"


def test_a_running_engine_follows_a_newer_generation_and_declines_a_stale_one(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURES / "dated" / "coast.jsonl", corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "idx")
    running = Engine.open(settings, embedder=embedder, log=None)
    assert not running.behind() and running.ask(QUESTION).abstained

    (corpus / "iceland.jsonl").write_text(json.dumps(NEW) + "\n", encoding="utf-8")
    other = Engine.open(settings, embedder=embedder, log=None)  # another process's build, in effect
    assert "iceland#1" in {d.doc_id for d in other.documents}
    assert running.behind()
    answer = running.ask(QUESTION)
    assert not answer.abstained and answer.citations[0].doc_id == "iceland#1"
    assert answer.citations[0].published == "2025-12-11" and not running.behind()

    (corpus / "iceland.jsonl").unlink()
    other.rebuild()  # a generation without the article ...
    (corpus / "iceland.jsonl").write_text(json.dumps(NEW) + "\n", encoding="utf-8")  # ... which is back
    assert running.behind()
    assert not running.follow()  # that generation does not match the corpus: declined
    assert not running.behind()  # and not loaded again for every question
    assert not running.ask(QUESTION).abstained  # the engine keeps serving its own generation


def test_the_apps_shared_engine_takes_the_new_generation_before_a_question(tmp_path, embedder):
    from ui.shared_engine import SharedEngine

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURES / "dated" / "coast.jsonl", corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "idx")
    shared = SharedEngine(settings, Engine.open(settings, embedder=embedder, log=None))
    (corpus / "iceland.jsonl").write_text(json.dumps(NEW) + "\n", encoding="utf-8")
    Engine.open(settings, embedder=embedder, log=None)  # another process's build, in effect
    with shared.use() as engine:
        assert not engine.behind()  # taken before the question, under the app's writer lock
        assert "iceland#1" in {d.doc_id for d in engine.documents}
        assert not engine.ask(QUESTION).abstained
