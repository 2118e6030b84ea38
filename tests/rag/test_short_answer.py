"""The short answer: the asked kind of filler in the cited sentence, as an exact span."""

from index.analysis import SentenceAnalysis
from rag.short_answer import filler_span

SENTENCE = "In 1204 the harbour of Velmora, a town in Estrava, was rebuilt by Ada Linnet for 3,000 crowns."
ANALYSIS = SentenceAnalysis(
    entities=(("DATE", "1204"), ("GPE", "Velmora"), ("GPE", "Estrava"), ("PERSON", "Ada Linnet"), ("MONEY", "3,000 crowns"))
)


def _short(question: str) -> str | None:
    span = filler_span(question, SENTENCE, ANALYSIS)
    return None if span is None else SENTENCE[span[0] : span[1]]


def test_the_filler_is_of_the_asked_kind():
    assert _short("Who rebuilt the harbour of Velmora?") == "Ada Linnet"
    assert _short("When was the harbour of Velmora rebuilt?") == "1204"
    assert _short("How much did the rebuilding of the harbour cost?") == "3,000 crowns"


def test_a_name_the_question_holds_is_not_the_answer_and_nearness_picks_among_the_rest():
    assert _short("In what country is Velmora?") == "Estrava"  # Velmora is asked; Estrava is next to it
    assert _short("Where was the harbour?") == "Velmora"  # nearer to "harbour" than Estrava


def test_no_short_answer_for_an_untyped_question_or_a_missing_kind():
    assert _short("Why was the harbour rebuilt?") is None
    assert _short("What did Ada Linnet say about the harbour?") is None
    assert filler_span("Who rebuilt the harbour?", "The harbour was rebuilt.", SentenceAnalysis()) is None


def test_the_engine_leads_with_the_filler_as_an_exact_span_of_its_own(tmp_path, embedder):
    import json

    from rag import Engine, Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    article = {
        "id": "harbour",
        "title": "Velmora's harbour",
        "text": "Velmora is a fishing town on the coast of Estrava.\n"
        "The harbour of Velmora was rebuilt by the engineer Ada Linnet after the storm.\n"
        "The town council said the rebuilding cost 3,000 crowns.",
    }
    (corpus / "harbour.jsonl").write_text(json.dumps(article) + "\n", encoding="utf-8")
    engine = Engine.open(Settings(corpus_dir=corpus, index_dir=tmp_path / "idx"), embedder=embedder, log=None)
    answer = engine.ask("Who rebuilt the harbour of Velmora?")
    assert answer.short is not None and answer.short.text == "Ada Linnet"
    document = engine.document(answer.short.doc_id)
    assert document.text[answer.short.start : answer.short.end] == "Ada Linnet"
    cited = answer.citations[0]
    assert cited.start <= answer.short.start < answer.short.end <= cited.end  # inside what it cites
    assert answer.to_dict()["short_answer"]["text"] == "Ada Linnet"
    assert engine.ask("Why was the harbour of Velmora rebuilt?").short is None
