"""Question answering over a news corpus with exact, program-verified source spans.

from rag import Engine
answer = Engine.open().ask("How much must partners pay for Ukraine's defence in 2026?")
"""

import index.offline  # noqa: F401  (hub libraries stay offline; must precede their import)
from index.errors import CorpusError, IndexCorrupt, IndexMissing, IndexStale, QuestionError, RagError
from rag.engine import Engine, open_engine
from rag.errors import BackendError
from rag.settings import Settings
from rag.types import Answer, Citation, Evidence, Passage

__all__ = [
    "Answer",
    "BackendError",
    "Citation",
    "CorpusError",
    "Engine",
    "Evidence",
    "IndexCorrupt",
    "IndexMissing",
    "IndexStale",
    "Passage",
    "QuestionError",
    "RagError",
    "Settings",
    "open_engine",
]
