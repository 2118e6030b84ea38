"""Adapters that let other frameworks use rag's exact spans and verification.

Each adapter lives in its own module and is imported only when used, so `import rag` never pulls in
a framework: `from rag.integrations.llama_index import RagRetriever`.
"""
