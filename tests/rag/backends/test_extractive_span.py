"""The extractive answer's cut (`rag.backends.extractive.shortest_answering_span`) on made-up text."""

from rag.backends.extractive import clauses, shortest_answering_span

SENTENCE = (
    "Ana Ruiz, Peruvian President, said Peru would hold talks with its partners about its contribution, "
    "which could include patrol ships."
)


def test_the_clause_holding_what_was_asked_is_kept():
    question = "What did Ana Ruiz say Peru's contribution could include?"
    start, end = shortest_answering_span(question, SENTENCE)
    assert SENTENCE[start:end].endswith("which could include patrol ships.")


def test_a_clause_the_question_does_not_reach_is_cut():
    assert len(clauses(SENTENCE)) == 2
    start, end = shortest_answering_span("What did Ana Ruiz say about talks with Peru's partners?", SENTENCE)
    assert SENTENCE[start:end] == SENTENCE[: SENTENCE.index(", which")]
