"""Who said what: an answer sentence that names a person as speaking must cite a sentence that
person speaks, checked by `rag.verify` for every backend; and the prompt names each evidence
sentence's speaker so a model can get it right.

First a made-up corpus (names no table knows, so nothing rests on this corpus' people), then the
real one: a planted misattribution of Shmyhal's "$60 billion" sentence to Zelenskyy, through
`verify.check` and through the engine with a scripted litellm model.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from index.aliases import ActorIndex, Person
from index.analysis import SentenceAnalysis, Speaker
from index.chunking import split_sentences
from index.documents import Document
from rag import backends, spans
from rag.backends.llm import LiteLLMBackend
from rag.backends.prompting import build_messages, evidence_line
from rag.types import Evidence
from rag.verify import Speakers, attribution_problems, check, named_speakers

# -- a made-up corpus -------------------------------------------------------------------------

TEXT = ("\u201cThe bridge will cost $40 million,\u201d Ada Okonkwo said on Monday. "
        "The plan, backed by Lena Ortiz, passed the council. "
        "Lena Ortiz warned that repairs would take two years.")
DOC = Document("made_up", "made_up.txt", TEXT)


def _sentence(phrase: str):
    start = TEXT.index(phrase)
    end = TEXT.find(". ", start)
    return spans.cite(DOC, start, len(TEXT) if end < 0 else end + 1)


BRIDGE = _sentence("\u201cThe bridge")
BACKED = _sentence("The plan")
WARNED = _sentence("Lena Ortiz warned")
SPOKEN = {BRIDGE.start: ("Ada Okonkwo",), WARNED.start: ("Lena Ortiz",)}


def _analysis(doc_id: str, start: int, end: int) -> SentenceAnalysis:
    return SentenceAnalysis(speakers=tuple(Speaker(n) for n in SPOKEN.get(start, ())))


def _actors() -> ActorIndex:
    actors = ActorIndex()
    actors.add(Person("Ada Okonkwo"))
    actors.add(Person("Lena Ortiz"))
    return actors


@pytest.fixture(scope="module")
def people() -> Speakers:
    return Speakers(_actors(), _analysis)


def _problems(text: str, people: Speakers, *cited) -> tuple[str, ...]:
    return check(text, dict(enumerate(cited, 1)), {DOC.doc_id: DOC}, speakers=people).problems


@pytest.mark.parametrize("text, name", [
    ("Ortiz said the bridge will cost $40 million [1].", "Ortiz"),
    ("Lena Ortiz, the council member, said the bridge will cost $40 million [1].", "Lena Ortiz"),
    ("Council member Lena Ortiz has also stated that the bridge will cost $40 million [1].", "Lena Ortiz"),
    ("According to Ortiz, the bridge will cost $40 million [1].", "Ortiz"),
    ("\u201cThe bridge will cost $40 million,\u201d said Ortiz [1].", "Ortiz"),
])
def test_words_put_in_the_wrong_mouth_are_rejected(people, text, name):
    assert [n for n, _ in named_speakers(text)] == [name]
    (problem,) = _problems(text, people, BRIDGE)
    assert "names Lena Ortiz as the speaker, but the cited sentence is Ada Okonkwo's ([1])" in problem


def test_a_close_spelling_is_the_same_person(people):
    (problem,) = _problems("Okonkwoh said repairs would take two years [1].", people, WARNED)
    assert "names Ada Okonkwo as the speaker, but the cited sentence is Lena Ortiz's ([1])" in problem
    assert _problems("Okonkwoh said the bridge will cost $40 million [1].", people, BRIDGE) == ()


@pytest.mark.parametrize("text", [
    "Okonkwo said the bridge will cost $40 million [1].",
    "Ada Okonkwo said on Monday the bridge will cost $40 million [1].",
    "According to Okonkwo, the bridge will cost $40 million [1].",
])
def test_the_right_speaker_passes(people, text):
    assert _problems(text, people, BRIDGE) == ()


def test_a_person_named_in_another_role_is_not_a_speaker(people):
    text = "The plan backed by Lena Ortiz passed the council [1]."
    assert named_speakers(text) == []
    assert _problems(text, people, BACKED) == ()
    # The same sentence claiming she *said* it: the cited sentence names her but has no speaker.
    (problem,) = _problems("Lena Ortiz said the plan passed the council [1].", people, BACKED)
    assert "names Lena Ortiz as the speaker, but the cited sentence ([1]) does not say so" in problem


def test_an_unknown_name_or_a_country_is_not_checked(people):
    assert _problems("Zorbia said the bridge will cost $40 million [1].", people, BRIDGE) == ()
    assert _problems("Mira Castellan said the bridge will cost $40 million [1].", people, BRIDGE) == ()


def test_each_sentence_answers_for_its_own_citation(people):
    text = ("Okonkwo said the bridge will cost $40 million [1]. "
            "Ortiz warned that repairs would take two years [2].")
    assert _problems(text, people, BRIDGE, WARNED) == ()
    swapped = ("Ortiz said the bridge will cost $40 million [1]. "
               "Okonkwo warned that repairs would take two years [2].")
    problems = _problems(swapped, people, BRIDGE, WARNED)
    assert len(problems) == 2 and "Lena Ortiz's" in problems[1] and "Ada Okonkwo's" in problems[0]


def test_a_speaker_named_with_others_counts_for_each():
    group = Speakers(_actors(), lambda *_: SentenceAnalysis(speakers=(Speaker("Ortiz and council officials"),)))
    assert _problems("According to Ortiz, the bridge will cost $40 million [1].", group, BRIDGE) == ()
    (problem,) = _problems("Okonkwo said the bridge will cost $40 million [1].", group, BRIDGE)
    assert "the cited sentence is Ortiz and council officials' ([1])" in problem


def test_one_of_several_cited_speakers_is_enough(people):
    assert _problems("Ortiz warned the bridge will cost $40 million [1][2].", people, BRIDGE, WARNED) == ()


def test_without_speakers_or_markers_nothing_is_checked(people):
    assert check("Ortiz said the bridge will cost $40 million [1].", {1: BRIDGE}, {DOC.doc_id: DOC}).ok
    # A quote without markers is the article's own wording (the extractive answer): even where
    # the index took someone else for its speaker, the quote is not read for attribution.
    wrong = Speakers(_actors(), lambda *_: SentenceAnalysis(speakers=(Speaker("Ada Okonkwo"),)))
    assert _problems(WARNED.text, wrong, WARNED) == ()
    assert _problems(WARNED.text.rstrip(".") + " [1].", wrong, WARNED) != ()


def test_the_prompt_names_the_speaker_and_keeps_the_fence():
    said = Evidence(1, replace(BRIDGE, speaker="Ada [Okonkwo] <b>"))
    plain = Evidence(2, BACKED)
    assert evidence_line(said).startswith("[1] (speaker: Ada Okonkwo \u2039b\u203a) \u201cThe bridge")
    assert evidence_line(plain) == f"[2] {BACKED.text}"
    system, user = build_messages("Who said what?", [said, plain])
    assert "(speaker: name)" in system["content"]
    block = user["content"].split("<evidence>\n")[1].split("\n</evidence>")[0]
    assert [line[:4] for line in block.splitlines()] == ["[1] ", "[2] "]


# -- the real corpus --------------------------------------------------------------------------

QUESTION = "How much must Ukraine's partners pay next year?"
MISATTRIBUTED = "Zelenskyy said the remaining $60 billion must come from partners"


@pytest.fixture(scope="module")
def evidence(engine):
    _, ev = engine.evidence(QUESTION)
    return ev


@pytest.fixture(scope="module")
def remaining(evidence):
    return next(e for e in evidence if "remaining $60 billion must come" in e.text)


@pytest.fixture(scope="module")
def corpus_people(engine) -> Speakers:
    return Speakers(engine.facts.actors, engine.facts.analysis)


def test_the_planted_misattribution_is_rejected(engine, remaining, corpus_people):
    docs = engine.corpus.by_id
    verdict = check(f"{MISATTRIBUTED} [1].", {1: remaining.citation}, docs, QUESTION, corpus_people)
    assert not verdict.ok
    assert ("names Volodymyr Zelenskyy as the speaker, but the cited sentence is Denys Shmyhal's"
            in verdict.reason)
    right = check("Shmyhal said the remaining $60 billion must come from partners [1].",
                  {1: remaining.citation}, docs, QUESTION, corpus_people)
    assert right.ok, right.problems


class Scripted(LiteLLMBackend):
    """The litellm backend answering from a queue through `mock_response`: the prompt is real."""

    def __init__(self, *replies: str):
        super().__init__("openai/scripted", name="scripted_attribution", retries=0)
        self.replies = list(replies)
        self.prompts: list[list[dict]] = []

    def open(self) -> None:
        pass

    def _kwargs(self, messages, evidence=()):
        self.prompts.append(messages)
        return {**super()._kwargs(messages, evidence), "mock_response": self.replies.pop(0)}


@pytest.fixture
def serve():
    names = []

    def register(instance: Scripted) -> str:
        class Serving(Scripted):
            @classmethod
            def create(cls, options):
                return instance

        backends.register(instance.name)(Serving)
        names.append(instance.name)
        return instance.name

    yield register
    for name in names:
        backends.unregister(name)


def test_a_misattributing_model_falls_back_to_the_extractive_answer(engine, evidence, remaining, serve):
    i = remaining.id
    model = Scripted(f"{MISATTRIBUTED} [{i}].", f"{MISATTRIBUTED} [{i}].")
    answer = engine.ask(QUESTION, backend=serve(model))
    extractive = engine.ask(QUESTION, backend="extractive")
    assert answer.verified is False and answer.verification == "fallback"
    assert answer.text == extractive.text and "Zelenskyy" not in answer.text
    assert "names Volodymyr Zelenskyy as the speaker" in answer.fallback_reason
    assert len(model.prompts) == 2 and "names Volodymyr Zelenskyy" in model.prompts[1][-1]["content"]
    shown = model.prompts[0][1]["content"]
    assert f"[{i}] (speaker: Denys Shmyhal) \u201cThe remaining $60 billion" in shown


def test_a_model_that_names_the_right_speaker_is_verified(engine, remaining, serve):
    model = Scripted(f"Shmyhal said the remaining $60 billion must come from partners [{remaining.id}].")
    answer = engine.ask(QUESTION, backend=serve(model))
    assert answer.verified is True and answer.verification == "verified", answer.fallback_reason
    assert answer.citations[0].speaker == "Denys Shmyhal"


def test_a_person_named_but_not_as_speaker_passes(engine, evidence, serve):
    i = next(e.id for e in evidence if "Denys Shmyhal, the Ukrainian minister" in e.text)
    model = Scripted(f"At a meeting attended by Shmyhal, Ukraine put the war costs at $120 billion next year [{i}].")
    answer = engine.ask(QUESTION, backend=serve(model))
    assert answer.verified is True, answer.fallback_reason


def test_every_article_sentence_citing_itself_keeps_its_attribution(engine, corpus_people):
    # Whoever an article sentence names as speaking ("According to X and officials, ...") is a
    # speaker the index found in that sentence: no false alarm on the articles' own wording.
    named = 0
    for doc in engine.corpus.documents:
        for s in split_sentences(doc):
            if not any(corpus_people.person(n) for n, _ in named_speakers(s.text)):
                continue
            named += 1
            claim = s.text.rstrip().rstrip(".") + " [1]."
            assert attribution_problems(1, claim, [1], {1: spans.cite(doc, s.start, s.end)}, corpus_people) == []
    assert named >= 10  # the articles do quote people by name
