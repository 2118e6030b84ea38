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


def test_the_cut_keeps_every_possible_filler_of_a_who_question():
    # Without the filler check the clause naming who did it is cut away: the words asked about are
    # all in the first clause.
    sentence = (
        "The rebels of Cusco even tried to carve out a state of their own in the hills, "
        "but they were stopped by the general Ana Ruiz."
    )
    question = "Who ruined the plans of the rebels of Cusco to carve out a state of their own?"
    start, end = shortest_answering_span(question, sentence)
    assert "Ana Ruiz" in sentence[start:end]
    # A question asking for no typed filler may still be cut to its clause.
    why = "What did the rebels of Cusco try to carve out in the hills?"
    start, end = shortest_answering_span(why, sentence)
    assert "Ana Ruiz" not in sentence[start:end]
