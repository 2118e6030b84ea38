"""Synthetic question-sentence pairs for the answer scorer (`model.py`), made from any text.

Nobody writes these questions: each is made from a sentence by turning one of its parts into a
question word (cloze to question, as in Lewis, Denoyer and Riedel 2019, "Unsupervised Question
Answering by Cloze Translation"), with spaCy's entities and parse saying which part and which word:

    "The treaty was signed in 911 by the king."  ->  "When was the treaty signed by the king?"

A pair is labelled 1 when the sentence answers the question. The pairs labelled 0 are the ways a
question can look answerable and not be, as crowd workers wrote them for SQuAD 2.0 (Rajpurkar, Jia
and Liang 2018): the same question against another sentence of the text that shares its words; and
the sentence against its own question changed in one fixed part: another name of the same kind from
the text, another number or period, a word's antonym, a negation, or another noun of the text.

Positives are reworded a little (a WordNet synonym, a dropped modifier) so that a question's
words missing from the sentence do not, alone, mean "no answer".

The text comes from outside this project and outside its evaluation sets: the English Wikipedia
excerpt and the Lee news corpus that gensim ships as test data (`pip install gensim`; only this
script needs it).
"""

from __future__ import annotations

import bz2
import random
import re
from dataclasses import dataclass
from typing import Iterator

from index.language.pipeline import pipeline
from index.language.words import PLACE_PREPOSITIONS, TIME_PREPOSITIONS
from rag.thesaurus import wordnet

WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
NEWS = "lee_background.cor"
MIN_WORDS, MAX_WORDS = 8, 45  # sentences outside this are lists, captions or run-ons
MAX_QUESTION_WORDS = 22
NOISE = 0.35  # chance that a positive question is reworded


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    label: int
    how: str  # "cloze", or the kind of negative: "other_sentence", "swap_name", ...
    doc: str


def _prose(text: str) -> list[str]:
    """Paragraphs that read as prose (Wikipedia's lists, tables and captions are left out)."""
    out = []
    for para in re.split(r"\n\s*\n|\n", text):
        para = re.sub(r"'{2,}", "", para).strip()
        if len(para) > 200 and para.count(". ") >= 2 and not para.startswith(("|", "{", "*", "#", "!", "=")):
            out.append(re.sub(r"\s+", " ", para))
    return out


def documents() -> Iterator[tuple[str, str]]:
    """(name, text) of each outside document, Wikipedia articles first, then the news stories."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki
    from gensim.test.utils import datapath

    with bz2.open(datapath(WIKI_DUMP)) as fh:
        for title, markup, _ in extract_pages(fh):
            if markup.lower().startswith("#redirect"):
                continue
            paras = _prose(filter_wiki(markup))
            if paras:
                yield title, "\n\n".join(paras)
    with open(datapath(NEWS), encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh):
            if len(line) > 200:
                yield f"lee-{i}", line.strip()


# Question words by the answer's entity label; None: "what".
_WH = {
    "PERSON": "who",
    "NORP": "who",
    "ORG": "what organisation",
    "GPE": "where",
    "LOC": "where",
    "FAC": "where",
    "DATE": "when",
    "TIME": "when",
    "CARDINAL": "how many",
    "QUANTITY": "how much",
    "MONEY": "how much",
    "PERCENT": "what percentage",
    "ORDINAL": "which",
}
_DROP_PREP = {"where": PLACE_PREPOSITIONS, "when": TIME_PREPOSITIONS}
_DO = {"VBD": "did", "VBZ": "does", "VBP": "do"}


def _answers(sent) -> list:
    """The parts of a sentence a question may ask for: its entities, else its noun chunks."""
    ents = [
        e for e in sent.ents if e.label_ in _WH or e.label_ in ("EVENT", "WORK_OF_ART", "LAW", "PRODUCT", "LANGUAGE")
    ]
    chunks = [c for c in sent.noun_chunks if c.root.pos_ == "NOUN" and c.root.dep_ in ("dobj", "pobj", "nsubj", "attr")]
    return ents + chunks


def _clause(answer):
    """The verb the answer hangs on, and that verb's clause (its subtree), or None."""
    verb = answer.root.head
    while verb.pos_ not in ("VERB", "AUX") and verb.head.i != verb.i:
        verb = verb.head
    if verb.pos_ not in ("VERB", "AUX"):
        return None, None
    tokens = [t for t in verb.subtree if not t.is_space and (t.dep_ != "punct" or t.text in ("'", "-"))]
    # A clause's own sub-clauses after a comma make questions too long to look asked.
    return verb, tokens


def question_for(answer) -> str | None:
    """The question whose answer is `answer` (a spaCy span), from its clause, or None."""
    verb, tokens = _clause(answer)
    if verb is None:
        return None
    wh = _WH.get(answer.label_, "what")
    inside = set(range(answer.start, answer.end))
    prep = answer.root.head if answer.root.dep_ == "pobj" else None
    drop = set(inside)
    if wh in _DROP_PREP:
        if prep is not None and prep.lower_ in _DROP_PREP[wh]:
            drop.add(prep.i)
        elif wh == "where":  # a place that is not where something is: "what"
            wh = "what"
    if wh == "how many" and answer.root.head.pos_ == "NOUN" and answer.root.dep_ == "nummod":
        noun = answer.root.head
        wh = f"how many {noun.text}"
        drop.add(noun.i)
    rest = [t for t in tokens if t.i not in drop]
    subject = answer.root.dep_ in ("nsubj", "nsubjpass") and answer.root.head.i == verb.i

    def word(t) -> str:  # "The" inside a question is "the"; names keep their capitals
        return t.lower_ if t.i == t.sent.start and t.pos_ != "PROPN" else t.text

    if subject:
        words = [wh] + [word(t) for t in rest]
    else:
        aux = [t for t in verb.children if t.dep_ in ("aux", "auxpass") and t.i < verb.i]
        if aux:
            first = aux[0]
            words = [wh, first.text] + [word(t) for t in rest if t.i != first.i]
        elif verb.tag_ in _DO and verb.lemma_ != "be":
            words = [wh, _DO[verb.tag_]] + [verb.lemma_ if t.i == verb.i else word(t) for t in rest]
        elif verb.lemma_ == "be":
            words = [wh, verb.text] + [word(t) for t in rest if t.i != verb.i]
        else:
            return None
    if not (4 <= len(words) <= MAX_QUESTION_WORDS):
        return None
    text = " ".join(words)
    text = re.sub(r" ([,.;:'’)])", r"\1", text).replace("( ", "(").strip(" ,;:")
    return text[0].upper() + text[1:] + "?"


def _reworded(question: str, rng: random.Random) -> str:
    """A synonym for one word, or one modifier fewer: people do not ask in the text's words."""
    words = question[:-1].split()
    spots = [i for i, w in enumerate(words) if i > 1 and w.isalpha() and w.islower() and len(w) > 3]
    if not spots:
        return question
    i = rng.choice(spots)
    synonyms = sorted(s for s in wordnet().related(words[i]) if " " not in s and s != words[i].lower())
    if synonyms and rng.random() < 0.7:
        words[i] = rng.choice(synonyms)
    else:
        del words[i]
    return " ".join(words) + "?"


def _antonym(word: str) -> str | None:
    wn = wordnet()
    for pos in ("a", "v", "n"):
        for base in wn.base_forms(word.lower(), pos):
            for offset in wn.senses(base, pos):
                words, pointers = wn.synset(pos, offset)
                for symbol, target, target_pos, _ in pointers:
                    if symbol == "!":
                        return wn.synset(target_pos, target)[0][0].replace("_", " ")
    return None


def _changed_number(text: str, rng: random.Random) -> str | None:
    numbers = list(re.finditer(r"\b\d[\d,]*\b", text))
    if not numbers:
        return None
    m = rng.choice(numbers)
    value = int(m.group().replace(",", ""))
    if 1000 <= value <= 2100:
        new = value + rng.choice([-1, 1]) * rng.randint(1, 40)
    else:
        new = value + rng.choice([-1, 1]) * max(1, rng.randint(1, max(2, value)))
    return text[: m.start()] + str(max(new, 0)) + text[m.end() :]


def perturbed(question: str, qdoc, sent, doc, rng: random.Random) -> list[tuple[str, str]]:
    """The question changed in one fixed part so that `sent` no longer answers it: (question, how)."""
    out = []
    sent_words = {t.lower_ for t in sent}
    names = [e for e in qdoc.ents if e.label_ in ("PERSON", "ORG", "GPE", "NORP", "LOC", "EVENT", "FAC")]
    others: dict[str, list[str]] = {}
    for e in doc.ents:
        if not ({t.lower_ for t in e} & sent_words):
            others.setdefault(e.label_, []).append(e.text)
    for e in names:
        if others.get(e.label_):
            new = rng.choice(others[e.label_])
            out.append((question.replace(e.text, new, 1), "swap_name"))
            break
    changed = _changed_number(question, rng)
    if changed and changed != question:
        out.append((changed, "swap_number"))
    for t in qdoc:
        if t.pos_ in ("ADJ", "VERB") and t.i > 1:
            ant = _antonym(t.lemma_)
            if ant and ant.lower() not in sent_words:
                out.append((question.replace(t.text, ant, 1), "antonym"))
                break
    aux = [t for t in qdoc if t.dep_ in ("aux", "auxpass") or (t.lemma_ == "be" and t.i == 1)]
    if aux and " not " not in question:
        t = aux[0]
        out.append((question[: t.idx + len(t.text)] + " not" + question[t.idx + len(t.text) :], "negation"))
    nouns = [t for t in qdoc if t.pos_ == "NOUN" and t.i > 1]
    pool = sorted({t.text for t in doc if t.pos_ == "NOUN" and t.lower_ not in sent_words and t.is_alpha})
    if nouns and pool:
        t = rng.choice(nouns)
        out.append((question[: t.idx] + rng.choice(pool) + question[t.idx + len(t.text) :], "swap_noun"))
    return out


def _overlap(question: str, sent) -> int:
    q = {w.lower() for w in re.findall(r"\w+", question) if len(w) > 3}
    return len(q & {t.lower_ for t in sent})


def pairs_of(name: str, text: str, rng: random.Random, per_doc: int) -> list[Pair]:
    """Up to `per_doc` positives from one document, each with its negatives."""
    nlp = pipeline()
    doc = nlp(text[:100_000])
    sents = [s for s in doc.sents if MIN_WORDS <= len(s) <= MAX_WORDS]
    rng.shuffle(sents)
    out: list[Pair] = []
    made = 0
    for sent in sents:
        if made >= per_doc:
            break
        answers = _answers(sent)
        rng.shuffle(answers)
        for answer in answers[:2]:
            question = question_for(answer)
            if question is None:
                continue
            made += 1
            asked = rng.random() < NOISE and _reworded(question, rng) or question
            out.append(Pair(asked, sent.text, 1, "cloze", name))
            others = [
                s for s in doc.sents if s.start != sent.start and answer.text not in s.text and len(s) >= MIN_WORDS
            ]
            if others:
                best = max(others, key=lambda s: (_overlap(question, s), rng.random()))
                out.append(Pair(question, best.text, 0, "other_sentence", name))
            qdoc = nlp(question)
            for changed, how in perturbed(question, qdoc, sent, doc, rng)[:2]:
                if changed != question:
                    out.append(Pair(changed, sent.text, 0, how, name))
            break
    return out


def make_pairs(seed: int = 13, per_doc: int = 40, limit_docs: int | None = None) -> list[Pair]:
    rng = random.Random(seed)
    out: list[Pair] = []
    for i, (name, text) in enumerate(documents()):
        if limit_docs is not None and i >= limit_docs:
            break
        out += pairs_of(name, text, rng, per_doc if not name.startswith("lee-") else 4)
    return out


__all__ = ["Pair", "documents", "make_pairs", "pairs_of", "perturbed", "question_for"]
