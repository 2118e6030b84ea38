"""Selection on sentence structure, on a made-up article parsed with the real spaCy pipeline."""

from __future__ import annotations

from dataclasses import replace

import pytest

from index.chunking import split_sentences
from index.documents import Document
from index.sentence_analysis import analyse
from rag.selection import SentenceFacts
from rag.spans import cite
from index.terms import tokenize
from rag.types import Evidence

pytest.importorskip("spacy")


def facts_and_evidence(text: str, scores: list[float]) -> tuple[SentenceFacts, list[Evidence]]:
    """The article's sentences as evidence, scored in the given order (best first as given)."""
    doc = Document("a.txt", "a.txt", text)
    sentences = split_sentences(doc)
    sentences = [replace(s, analysis=a) for s, a in zip(sentences, analyse(doc, sentences), strict=True)]
    assert len(sentences) == len(scores)
    evidence = [
        Evidence(i + 1, cite(doc, s.start, s.end), score=score)
        for i, (s, score) in enumerate(sorted(zip(sentences, scores), key=lambda p: -p[1]))
    ]
    return SentenceFacts(sentences), evidence


def test_the_asked_actor_speaking_leads_over_a_sentence_that_only_names_it():
    text = (
        "Negotiators agreed on the canal plan in Lima despite Peru's earlier objections. "
        "Peru has rejected the canal plan, calling it unfair."
    )
    facts, evidence = facts_and_evidence(text, [0.6, 0.5])
    selection = facts.select(facts.ask("Does Peru accept the canal plan?"), evidence)
    assert selection.evidence[0].text.startswith("Peru has rejected")


def test_a_pronoun_speaker_answers_for_the_person_it_stands_for():
    text = (
        "Peruvian President Ana Ruiz met Chilean officials in Lima on Monday to discuss the canal deal. "
        "She described the canal deal as “a bridge between peoples.”"
    )
    facts, evidence = facts_and_evidence(text, [0.6, 0.5])
    selection = facts.select(facts.ask("What term did Ana Ruiz use for the canal deal?"), evidence)
    assert [e.text[:3] for e in selection.evidence][:1] == ["She"]


def test_a_question_about_wording_prefers_the_quoting_sentence():
    text = (
        "Ana Ruiz, the Peruvian president, said the canal deal would be signed in Lima next month. "
        "Ana Ruiz called the canal deal “a bridge between peoples.”"
    )
    facts, evidence = facts_and_evidence(text, [0.6, 0.5])
    ask = facts.ask("How did Ana Ruiz describe the canal deal?")
    assert ask.wording
    assert facts.select(ask, evidence).evidence[0].text.startswith("Ana Ruiz called")
    plain = facts.ask("When will the canal deal be signed?")
    assert not plain.wording


def test_a_yes_no_question_is_not_answered_by_the_actor_doing_something_else():
    text = (
        "Peru would provide naval support to the mission, officials in Lima said. "
        "Peru has sent ground troops to the border region."
    )
    facts, evidence = facts_and_evidence(text, [0.6, 0.5])
    ask = facts.ask("Has Peru agreed to send warships to the region?")
    assert ask.measure == "warship"
    assert facts.select(ask, evidence).evidence == []
    troops = facts.ask("Has Peru agreed to send ground troops?")
    assert [e.text[:8] for e in facts.select(troops, evidence).evidence] == ["Peru has"]


def test_what_someone_said_about_a_thing_needs_that_thing_not_just_a_shared_place():
    text = (
        "Ana Ruiz, the Peruvian president, said Chile's ports would handle more canal traffic. "
        "Bolivia will build two rail depots in Chile, officials said."
    )
    facts, evidence = facts_and_evidence(text, [0.6, 0.5])
    ask = facts.ask("What did Ana Ruiz say about the rail depots in Chile?")
    assert "depot" in ask.about
    # Her only sentence shares "Chile" with the question, not the depots.
    assert not [e for e in facts.select(ask, evidence).evidence if e.text.startswith("Ana Ruiz")]
    on_it = facts.ask("What did Ana Ruiz say about canal traffic?")
    assert [e.text[:8] for e in facts.select(on_it, evidence).evidence][:1] == ["Ana Ruiz"]
    # "What should X do about Y" asks what to do, not what was said about Y.
    assert facts.ask("What does Ana Ruiz think Chile should do about Peru?").about == ()


def test_a_figure_the_sentence_states_is_part_of_what_it_is_about():
    text = (
        "Ana Ruiz, Peruvian Prime Minister, said Peru would hold talks about its share of the canal fund. "
        "“2030 could be the year the canal opens. This is good news,” she said."
    )
    facts, evidence = facts_and_evidence(text, [0.5, 0.6, 0.4])
    ask = facts.ask("What does the Peruvian prime minister think 2030 could bring?")
    kept = facts.select(ask, evidence).evidence
    # Her title is who speaks, not what about: the talks sentence shares only "prime minister".
    assert [e.text[:5] for e in kept] == ["“2030"]


def test_sentences_the_asked_actor_speaks_meet_the_words_naming_them():
    text = (
        "Ana Ruiz, Peruvian Prime Minister, said the canal would open in 2030. "
        "She called the canal “a bridge between peoples.” "
        "Chilean President Luis Soto said the canal would cost too much."
    )
    facts, evidence = facts_and_evidence(text, [0.6, 0.5, 0.4])
    met = facts.speaker_terms(facts.ask("How did the Peruvian prime minister describe the canal?"))
    assert met is not None
    unit = {u.text[:5]: u for u in split_sentences(Document("a.txt", "a.txt", text))}
    assert met(unit["She c"]) == frozenset(tokenize("Peruvian prime minister"))
    assert met(unit["Chile"]) == frozenset()
    # A figure question is about whose figure, not who speaks: nothing is met by the speaker.
    assert facts.speaker_terms(facts.ask("How much will the canal cost Peru?")) is None


def test_words_someone_else_said_are_theirs_even_when_the_asked_person_touches_the_subject():
    text = (
        "Ana Ruiz, Peruvian President, said the canal costs would rise next year. "
        "Chilean President Luis Soto said 2030 would be the year the canal opens."
    )
    facts, evidence = facts_and_evidence(text, [0.5, 0.6])
    ask = facts.ask("What did Ana Ruiz say about 2030 being the year the canal opens?")
    selection = facts.select(ask, evidence)
    # Her sentence shares "canal" and "year"; his states all of it: the answer is his, named as his.
    assert selection.evidence == []
    assert [e.text[:7] for e in selection.other] == ["Chilean"]
    assert selection.notice is not None and "Luis Soto" in selection.notice
    # Asked about what she did say, her sentence answers.
    own = facts.select(facts.ask("What did Ana Ruiz say about canal costs next year?"), evidence)
    assert [e.text[:8] for e in own.evidence][:1] == ["Ana Ruiz"]


def test_a_date_is_confirmed_by_the_asked_actor_and_the_event_not_by_a_measure():
    text = (
        "Peru halted its canal payments in May 2024, officials in Lima said. The canal authority was founded in 1999."
    )
    facts, evidence = facts_and_evidence(text, [0.6, 0.5])
    asked = facts.ask("When did Peru stop the canal payments?")
    assert asked.kind == "date"
    confirmed = facts.select(asked, evidence).confirmed
    assert [c.text[:4] for c in confirmed] == ["Peru"]
    # Another actor's event, or a date the sentence gives for something else, is not confirmed.
    assert not facts.select(facts.ask("When did Chile stop the canal payments?"), evidence).confirmed
    assert not facts.select(facts.ask("When did Peru sign the water treaty?"), evidence).confirmed


def test_which_thing_someone_did_needs_the_deed_not_just_the_person_and_a_thing_of_that_kind():
    text = (
        "Also present in Lima were Chilean envoy Tomas Vega, Peruvian President Ana Ruiz and "
        "Andean Council chief Luis Mora. "
        "Luis Mora governed Ecuador for six years before he joined the council."
    )
    facts, evidence = facts_and_evidence(text, [0.6, 0.5])
    mora = facts.ask("Which country did Luis Mora once govern?")
    assert mora.named == "country" and mora.actor is not None
    # The first sentence names him and countries, but does not say he governed one.
    assert [e.text[:13] for e in facts.select(mora, evidence).evidence] == ["Luis Mora gov"]
    # Nothing says he founded a party: sentences naming him and a body do not answer.
    assert facts.select(facts.ask("Which party did Luis Mora found?"), evidence).evidence == []


def test_what_happened_somewhere_needs_a_told_event_there_not_a_passing_mention_or_a_plan():
    text = (
        "Ana Ruiz cancelled her trip because of recent events in Quito. "
        "Chile would send patrol boats to the Gulf of Arica next year. "
        "Protesters blocked the main bridge in Lima on Monday."
    )
    facts, evidence = facts_and_evidence(text, [0.6, 0.5, 0.4])

    def kept(question: str) -> list[str]:
        return [e.text[:10] for e in facts.select(facts.ask(question), evidence).evidence]

    assert facts.ask("What happened in Quito?").happened_at == ("Quito",)
    assert kept("What happened in Quito?") == []  # "recent events in Quito" says only that something did
    assert kept("What happened in the Gulf of Arica?") == []  # a plan, not something that happened
    assert kept("What happened in Lima?") == ["Protesters"]
    # What will happen is answered by plans: the rule is for the past only.
    assert facts.ask("What will happen in the Gulf of Arica?").happened_at == ()


def test_which_city_is_not_answered_by_a_country():
    text = "Members of the Andean summit pledged support for Peru. The Andean summit met in Cusco on Friday."
    facts, evidence = facts_and_evidence(text, [0.6, 0.5])
    ask = facts.ask("Which city hosted the Andean summit?")
    assert ask.named == "city"
    assert [e.text[:14] for e in facts.select(ask, evidence).evidence] == ["The Andean sum"]
