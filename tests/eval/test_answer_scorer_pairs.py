"""Synthetic pairs for the answer-scorer experiment: a question per sentence part, and negatives
that change one fixed part of it (made-up text; gensim is not needed)."""

import random

from eval.answer_scorer.pairs import pairs_of, perturbed, question_for
from index.language.pipeline import pipeline

TEXT = (
    "The harbour of Velmora was rebuilt by Ada Linnet in 1204. "
    "Tomas Brell, the town's mayor, opened the new pier in Estrava in 1210. "
    "The fishing fleet of Velmora counted 40 boats after the storm."
)


def test_a_part_of_the_sentence_becomes_the_question_word_of_its_kind():
    sent = next(pipeline()(TEXT).sents)
    questions = {e.text: question_for(e) for e in sent.ents}
    assert questions["1204"] == "When was the harbour of Velmora rebuilt by Ada Linnet?"
    assert questions["Ada Linnet"] is not None and questions["Ada Linnet"].startswith("Who ")
    assert "Ada Linnet" not in questions["Ada Linnet"]


def test_negatives_change_one_fixed_part_and_pairs_are_labelled():
    doc = pipeline()(TEXT)
    sent = next(doc.sents)
    question = "When was the harbour of Velmora rebuilt by Ada Linnet?"
    changed = dict((how, q) for q, how in perturbed(question, pipeline()(question), sent, doc, random.Random(1)))
    assert "negation" in changed and " not " in changed["negation"]
    assert all(q != question for q in changed.values())
    pairs = pairs_of("made-up", TEXT, random.Random(3), per_doc=3)
    assert {p.label for p in pairs} == {0, 1}
    assert all(p.how == "cloze" for p in pairs if p.label == 1)
