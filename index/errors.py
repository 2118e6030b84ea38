"""The exception tree every layer raises and the CLI reports in one line.

    RagError
    ├── CorpusError      a corpus file or folder cannot be used
    │   └── CorpusChanged    an article changed while a reader used it (the reader re-opens)
    ├── IndexMissing     no index on disk where one was expected
    ├── IndexStale       the index was built from other documents or settings
    ├── IndexCorrupt     the index files do not match their manifest
    ├── IndexDirRefused  the index folder holds files that are not an index of ours
    ├── QuestionError    the question itself is unusable (empty, too long)
    └── BackendError     an answer backend failed (defined in rag.errors)

Messages say what happened, to which file or setting, and what to do next.
"""

from __future__ import annotations


class RagError(Exception):
    """Base of every error this project raises on purpose."""


class CorpusError(RagError):
    """A corpus folder or file cannot be read as documents."""


class CorpusChanged(CorpusError):
    """A corpus file changed (or vanished) between opening the index and reading it: a rebuild is
    under way. `rag.Engine` re-opens the newest index and asks again, a bounded number of times."""


class IndexMissing(RagError):
    """No index exists at the expected location."""


class IndexStale(RagError):
    """The index on disk was built from other documents or settings."""


class IndexCorrupt(RagError):
    """The index files are unreadable or disagree with their manifest."""


class IndexDirRefused(RagError):
    """The index folder is not ours to write: it holds other files, or is (inside) the corpus."""


class QuestionError(RagError):
    """The question is empty, too long or otherwise unusable."""
