"""The sentence-transformers model run by ONNX Runtime: same vectors as torch, less time.

Why: embedding is most of an index build, and PyTorch is slow to import and slow per batch on a
small CPU. The packaged weights are exported once (torch's TorchScript exporter, which needs only
the `onnx` package; optimum would downgrade transformers), optionally quantised to int8 with
ONNX Runtime's dynamic quantisation (as sentence-transformers' `export_dynamic_quantized_onnx_model`
does), and cached in a sub-folder of the index folder, keyed by model, weights hash, exporter and
runtime versions, so an export happens once per index and model, never per run.

Inference mirrors the sentence-transformers pipeline of the packaged model (modules.json:
Transformer -> mean Pooling -> Normalize): the `tokenizers` tokenizer of the model folder,
stripped texts, truncation at `max_seq_length`, padding to the longest text of the batch, mean of
the token vectors under the attention mask, L2 normalisation. Torch and transformers are imported
only to export; opening a cached model needs neither, which also makes a cold `rag ask` faster.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from index.embedding import Embedder, resolve_model_path
from index.errors import RagError

CACHE_FOLDER = "embedder"  # sub-folder of the index folder holding exported models
MODEL_FILE = "model.onnx"
META_FILE = "export.json"
ONNX_OPSET = 17
EXPORT_FORMAT = 1  # bump when the export or quantisation recipe changes: old caches are not reused
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HASHED_FILES = ("config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")
DEFAULT_MAX_SEQ_LENGTH = 256
VARIANTS = ("onnx", "onnx-int8")
ALLOW_SPINNING = "0"


class UnsupportedModel(RagError):
    """The model folder is not a Transformer -> mean Pooling -> Normalize sentence-transformers model."""


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UnsupportedModel(f"cannot read {path}: {exc}") from exc


def _pipeline(model_dir: Path) -> tuple[int, int]:
    """(dimension, max_seq_length) if the folder is a model this module reproduces exactly."""
    modules = (
        [m.get("type", "") for m in _read_json(model_dir / "modules.json")]
        if (model_dir / "modules.json").is_file()
        else []
    )
    expected = [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ]
    if modules != expected:
        raise UnsupportedModel(f"{model_dir}: modules {modules} are not {expected}; use the torch backend")
    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise UnsupportedModel(f"{model_dir}: pooling {modes} is not mean pooling; use the torch backend")
    config = (
        _read_json(model_dir / "sentence_bert_config.json")
        if (model_dir / "sentence_bert_config.json").is_file()
        else {}
    )
    if config.get("do_lower_case"):
        raise UnsupportedModel(f"{model_dir}: do_lower_case is not reproduced; use the torch backend")
    if not (model_dir / "tokenizer.json").is_file():
        raise UnsupportedModel(f"{model_dir}: no tokenizer.json; use the torch backend")
    return int(pooling["word_embedding_dimension"]), int(config.get("max_seq_length") or DEFAULT_MAX_SEQ_LENGTH)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def cache_key(model_dir: Path, variant: str) -> str:
    """Folder name of an export: the model files' hash and the versions that shape the result."""
    digest = hashlib.sha256()
    for name in (*WEIGHT_FILES, *HASHED_FILES):
        if (model_dir / name).is_file():
            digest.update(name.encode() + b"\0" + _sha256(model_dir / name).encode())
    versions = f"format{EXPORT_FORMAT}-opset{ONNX_OPSET}-torch{_version('torch')}-ort{_version('onnxruntime')}"
    digest.update(versions.encode())
    return f"{variant}-{digest.hexdigest()[:20]}"


def export(model_dir: Path, out_file: Path, quantized: bool) -> None:
    """Export the transformer of `model_dir` to `out_file` (token vectors out), int8 if asked."""
    if quantized:
        fp32 = out_file.with_name("fp32.onnx")
        export(model_dir, fp32, quantized=False)
        quantize(fp32, out_file)
        fp32.unlink()
        return
    import torch
    from transformers import AutoModel, AutoTokenizer

    class _Tokens(torch.nn.Module):  # the last hidden state only, not a ModelOutput
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    sample = tokenizer(
        ["A short sentence.", "A somewhat longer second sentence for the trace."], padding=True, return_tensors="pt"
    )
    args = (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"])
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            _Tokens(model),
            args,
            str(out_file),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["token_embeddings"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "token_embeddings": axes},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


def quantize(fp32: Path, out_file: Path) -> None:
    """The int8 model of an fp32 export."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Dynamic (activations quantised per batch), signed int8 weights like sentence-transformers'
    # avx2/avx512 configs, but per channel: per-tensor weights gave cosine 0.92 (min) to the torch
    # vectors on corpus/ on this AVX2 machine, per channel 0.979 (mean 0.991).
    quantize_dynamic(str(fp32), str(out_file), weight_type=QuantType.QInt8, per_channel=True)


class OnnxEmbedder(Embedder):
    """A sentence-transformers model (mean pooling, normalised) run by ONNX Runtime.

    The export is made lazily, at the first embedding, so that creating the embedder writes
    nothing: the index folder is claimed by the build before anything is cached in it.
    """

    exports = 0  # exports made by this process; tests use it to show a cache hit

    def __init__(self, model: str, cache_dir: str | Path, variant: str = "onnx-int8", threads: int | None = None):
        if variant not in VARIANTS:
            raise RagError(f"unknown ONNX variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        self.model_dir = Path(resolve_model_path(model))
        self.dimension, self.max_seq_length = _pipeline(self.model_dir)
        self.name = f"{model}+{variant}"
        self.variant = variant
        self.cache_dir = Path(cache_dir)
        self.threads = threads or os.cpu_count() or 1
        self._session = None
        self._tokenizer = None

    # -- the cached export ------------------------------------------------------------------------

    def model_file(self) -> Path:
        """The cached ONNX file, exported first if missing or corrupt."""
        folder = self.cache_dir / cache_key(self.model_dir, self.variant)
        if self._valid(folder):
            return folder / MODEL_FILE
        if folder.exists():  # corrupt or half-removed: replaced by a fresh export
            shutil.rmtree(folder, ignore_errors=True)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=self.cache_dir))
        try:
            try:
                with warnings.catch_warnings():  # the tracer's notes on a graph that is checked below
                    warnings.simplefilter("ignore")
                    fp32 = self.cache_dir / cache_key(self.model_dir, "onnx")
                    if self.variant == "onnx-int8" and self._valid(fp32):
                        quantize(fp32 / MODEL_FILE, tmp / MODEL_FILE)  # the fp32 export already made here
                    else:
                        export(self.model_dir, tmp / MODEL_FILE, quantized=self.variant == "onnx-int8")
            except Exception as exc:  # torch, transformers or onnx missing or failing: say what to do
                raise RagError(
                    f"exporting the embedding model {self.model_dir} to ONNX failed ({type(exc).__name__}: {exc}); "
                    "set RAG_EMBED_BACKEND=torch to embed without ONNX"
                ) from exc
            OnnxEmbedder.exports += 1
            meta = {"model": str(self.model_dir), "variant": self.variant, "sha256": _sha256(tmp / MODEL_FILE)}
            (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            try:
                os.rename(tmp, folder)
            except OSError:  # another process finished the same export first: use theirs
                if not self._valid(folder):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in self.cache_dir.glob(f"{self.variant}-*"):  # exports for other weights or versions
            if old.is_dir() and old.name != folder.name and old.name.rsplit("-", 1)[0] == self.variant:
                shutil.rmtree(old, ignore_errors=True)
        return folder / MODEL_FILE

    @staticmethod
    def _valid(folder: Path) -> bool:
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            return meta.get("sha256") == _sha256(folder / MODEL_FILE)
        except (OSError, ValueError, AttributeError):
            return False

    # -- inference --------------------------------------------------------------------------------

    def _load(self):
        if self._session is None:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # Idle threads sleep instead of spinning: on a machine shared with other work, spinning
            # threads take the cores the busy ones need.
            options.add_session_config_entry("session.intra_op.allow_spinning", ALLOW_SPINNING)
            self._session = ort.InferenceSession(
                str(self.model_file()), sess_options=options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tokenizer.enable_truncation(max_length=self.max_seq_length)
            pad = tokenizer.padding or {}
            tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
            self._tokenizer = tokenizer
        return self._session, self._tokenizer

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch([str(t).strip() for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (tokens,) = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
