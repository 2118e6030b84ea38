"""Benchmarks, apart from the evaluation suite: each writes a report instead of asserting a time.

python -m eval.bench.core    model load, indexing, retrieval and answer latency
python -m eval.bench.llm     LLM backend latency and verification outcomes
python -m eval.bench.scale   FAISS store at scale, exact vs HNSW
python -m eval.bench.ui      concurrent users against the web app
"""
