"""The stored sentence analysis of corpus/ stays exactly what it was, whatever makes it faster.

`tests/fixtures/analysis_corpus.json` holds every sentence's analysis (`SentenceAnalysis.to_dict`)
as the rules of `ANALYSIS_VERSION` produce it. Speed work on the sentence analysis (how spaCy is run,
batched or in worker processes) must not change a byte of it; a deliberate change of the rules
raises `ANALYSIS_VERSION` and rewrites the file:

    PYTHONPATH=. python tests/index/test_analysis_snapshot.py --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from index.analysis import ANALYSIS_VERSION
from index.chunking import split_sentences
from index.documents import load_corpus

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tests" / "fixtures" / "analysis_corpus.json"


def current() -> dict:
    from index.sentence_analysis import analyse

    documents = load_corpus(ROOT / "corpus").documents
    return {
        "analysis_version": ANALYSIS_VERSION,
        "documents": {d.doc_id: [a.to_dict() for a in analyse(d, split_sentences(d))] for d in documents},
    }


def test_analysis_of_corpus_matches_the_snapshot():
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert expected["analysis_version"] == ANALYSIS_VERSION, "rules changed: rewrite the snapshot (see docstring)"
    got = current()
    assert sorted(got["documents"]) == sorted(expected["documents"])
    for doc_id, analyses in expected["documents"].items():
        assert len(got["documents"][doc_id]) == len(analyses), doc_id
        for n, (mine, theirs) in enumerate(zip(got["documents"][doc_id], analyses)):
            assert mine == theirs, f"{doc_id} sentence {n}"


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    SNAPSHOT.write_text(json.dumps(current(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
