"""The language layer: general English vocabulary (`words`) and the one spaCy pipeline (`pipeline`).

Both the index's sentence analysis and the question reader in `rag/` read English the same way,
so the word lists and the parser they share live here, below both, once.
"""
