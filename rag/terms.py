"""Turning text into search terms for BM25 and lexical overlap.

The tokenizer lives in `index.terms` (the index builds its BM25 tables with it at index time, and
`index/` imports nothing of `rag/`); this module keeps the names the answer side imports.
"""

from __future__ import annotations

from index.terms import numbers_in, stopwords, tokenize

__all__ = ["numbers_in", "stopwords", "tokenize"]
