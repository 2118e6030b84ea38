"""The sentence-transformers model run by ONNX Runtime: same vectors as torch, less time.

Why: embedding is most of an index build, and PyTorch is slow to import and slow per batch on a
small CPU. The packaged weights are exported once (torch's TorchScript exporter, which needs only
the `onnx` package; optimum would downgrade transformers), optionally quantised to int8 with
ONNX Runtime's dynamic quantisation (as sentence-transformers' `export_dynamic_quantized_onnx_model`
does), and cached in a sub-folder of the index folder, keyed by model, weights hash, exporter and
runtime versions, so an export happens once per index and model, never per run.

The cache folder is ours, inside a folder the user chose, so it is checked before it is used
(`OnnxEmbedder.model_file`): a cache folder or export folder that is the wrong kind of thing (a
file, a symlink, dangling or leading anywhere, a folder of another user or one we cannot read and
write) is never followed or written through; it is renamed aside (`embedder.aside-*`, said in one
line) and the export made again. An index folder we cannot write (shared read-only) keeps its
cache as it is: a valid export there is used, and a missing one is exported to the user's cache
folder instead (`$XDG_CACHE_HOME/rag/embedder`, else a per-user temp folder), said in one line.
A temp folder of an export whose process is gone (killed mid-export) is removed by the next one.

Inference mirrors the sentence-transformers pipeline of the packaged model (modules.json:
Transformer -> mean Pooling -> Normalize): the `tokenizers` tokenizer of the model folder,
stripped texts, truncation at `max_seq_length`, padding to the longest text of the batch, mean of
the token vectors under the attention mask, L2 normalisation. Torch and transformers are imported
only to export; opening a cached model needs neither, which also makes a cold `rag ask` faster.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.metadata
import json
import os
import secrets
import shutil
import stat
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

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
TEMP_PREFIX = ".tmp-"  # an export in progress: .tmp-<export folder>-<pid>-<random>
ASIDE_INFIX = ".aside-"  # a cache entry of the wrong kind, renamed out of the way
OLD_TEMP_S = 3600.0  # an export temp folder without a pid in its name is a leftover after this long
Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"rag: {message}", file=sys.stderr, flush=True)


def user_cache_dirs() -> list[Path]:
    """Where exports go when the index folder cannot take them, in order of preference."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [Path(base) / "rag" / CACHE_FOLDER, Path(tempfile.gettempdir()) / f"rag-{os.getuid()}" / CACHE_FOLDER]


def wrong_kind(path: Path, folder: bool = True, write: bool = True) -> str:
    """Why `path` cannot be used as our folder (or our regular file): '' when it can or is absent.

    Never follows a link: a symlink is wrong whatever it points at. To `write`, a folder must also be
    ours (our uid) and writable; to read, readable is enough (an index shared read-only)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"a symlink to {target}"
    if folder and not stat.S_ISDIR(st.st_mode):
        return "a file, not a folder"
    if not folder and not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if write and st.st_uid != os.getuid():
        return f"owned by another user (uid {st.st_uid})"
    wanted = (os.R_OK | os.X_OK | (os.W_OK if write else 0)) if folder else os.R_OK
    if not os.access(path, wanted, follow_symlinks=False):
        return "not readable and writable by us" if write else "not readable by us"
    return ""


def set_aside(path: Path) -> Path:
    """Rename `path` (never followed) to a free `<name>.aside-<hex>` beside it; the new path."""
    aside = path.with_name(f"{path.name}{ASIDE_INFIX}{secrets.token_hex(4)}")
    os.rename(path, aside)
    return aside


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_exports(cache_dir: Path) -> list[str]:
    """Remove the temp folders of exports whose process is gone (a kill -9 mid-export); their names."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(cache_dir))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX) or entry.is_symlink():
            continue
        pid = entry.name.rsplit("-", 2)[-2] if entry.name.count("-") >= 3 else ""
        if pid.isdigit() and len(pid) <= 7:
            gone = int(pid) != os.getpid() and not _pid_alive(int(pid))
        else:  # named by an older version, without its pid: gone once it is an hour old
            try:
                gone = entry.stat(follow_symlinks=False).st_mtime < time.time() - OLD_TEMP_S
            except OSError:
                gone = False
        if gone:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


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

    def __init__(
        self,
        model: str,
        cache_dir: str | Path,
        variant: str = "onnx-int8",
        threads: int | None = None,
        log: Log | None = _stderr,
    ):
        if variant not in VARIANTS:
            raise RagError(f"unknown ONNX variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        self.model_dir = Path(resolve_model_path(model))
        self.dimension, self.max_seq_length = _pipeline(self.model_dir)
        self.name = f"{model}+{variant}"
        self.variant = variant
        self.cache_dir = Path(cache_dir)
        self.log = log  # one line for a cache set aside or moved to the user's cache folder
        self.threads = threads or os.cpu_count() or 1
        self._session = None
        self._tokenizer = None

    # -- the cached export ------------------------------------------------------------------------

    def model_file(self) -> Path:
        """The cached ONNX file, exported first if missing or corrupt (see the module doc)."""
        key = cache_key(self.model_dir, self.variant)
        if not wrong_kind(self.cache_dir, write=False) and self._valid(self.cache_dir / key):
            return self.cache_dir / key / MODEL_FILE
        refused: list[str] = []  # caches that could not be written, and why
        for cache_dir in dict.fromkeys([self.cache_dir, *user_cache_dirs()]):
            try:
                return self._export_into(cache_dir, key, refused)
            except OSError as exc:
                own = cache_dir == self.cache_dir
                if own and exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):  # a full disk, say
                    raise RagError(
                        f"writing the embedder cache in {cache_dir} failed ({exc}); "
                        "free some space or set RAG_EMBED_BACKEND=torch"
                    ) from exc
                refused.append(f"{cache_dir}: {exc.strerror or exc}")
        raise RagError(
            f"no folder can hold the ONNX export of {self.model_dir} ({'; '.join(refused)}); "
            "make one of them writable or set RAG_EMBED_BACKEND=torch"
        )

    def _say(self, message: str) -> None:
        if self.log is not None:
            self.log(message)

    def _heal(self, cache_dir: Path) -> None:
        """Set aside a cache folder of the wrong kind; PermissionError where that is not ours to do."""
        why = wrong_kind(cache_dir)
        if not why:
            return
        try:
            aside = set_aside(cache_dir)
        except OSError as exc:
            raise PermissionError(errno.EACCES, f"it is {why} and cannot be set aside ({exc.strerror})") from exc
        self._say(f"the embedder cache {cache_dir} was {why}; set it aside as {aside.name} and exporting again")

    def _export_into(self, cache_dir: Path, key: str, refused: list[str]) -> Path:
        """Export into `cache_dir` (reusing a valid export there); OSError when it cannot be written."""
        moved = cache_dir != self.cache_dir
        if moved:
            cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._heal(cache_dir)
        folder = cache_dir / key
        if moved and self._valid(folder):
            self._say(f"the index's embedder cache cannot be written ({'; '.join(refused)}); using {folder}")
            self.cache_dir = cache_dir
            return folder / MODEL_FILE
        cache_dir.mkdir(parents=True, exist_ok=True)
        remove_dead_exports(cache_dir)
        if wrong_kind(folder):  # a file or a link where the export goes: never followed
            self._say(f"the export {folder} was {wrong_kind(folder)}; set it aside")
            set_aside(folder)
        elif folder.exists():  # corrupt or half-removed: replaced by a fresh export
            shutil.rmtree(folder, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{folder.name}-{os.getpid()}-", dir=cache_dir))
        if moved:
            self._say(f"the index's embedder cache cannot be written ({'; '.join(refused)}); exporting to {folder}")
        try:
            try:
                with warnings.catch_warnings():  # the tracer's notes on a graph that is checked below
                    warnings.simplefilter("ignore")
                    fp32 = cache_dir / cache_key(self.model_dir, "onnx")
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
        for old in cache_dir.glob(f"{self.variant}-*"):  # exports for other weights or versions
            if old.is_dir() and not old.is_symlink() and old.name != folder.name:
                if old.name.rsplit("-", 1)[0] == self.variant:
                    shutil.rmtree(old, ignore_errors=True)
        self.cache_dir = cache_dir
        return folder / MODEL_FILE

    @staticmethod
    def _valid(folder: Path) -> bool:
        kinds = (
            wrong_kind(folder, write=False),
            *(wrong_kind(folder / f, False, False) for f in (META_FILE, MODEL_FILE)),
        )
        if any(kinds):
            return False  # nothing here is followed through a link
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
