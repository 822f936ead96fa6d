"""Robust small-model training on noisy LLM labels (FreeAL's self-training step).

Per epoch after the warm-up: per-sample loss over the whole pool -> 2-component GMM ->
clean / noisy split. Clean samples get cross-entropy plus mixup on the encoder outputs
(lambda ~ Beta(a, a), lambda = max(lambda, 1 - lambda)); the unsupervised part is
cross-entropy on the augmented clean samples plus a symmetric KL between each noisy sample and
its augmentation.

`loss="freeal"` (default) follows FreeAL's `self_training_slm/mytrainer.py`
(`MyTrainer.compute_loss`, `_inner_training_loop`): ramp w = linear_rampup(epoch progress, 10)
from the first step; loss = CE(clean) + w x mixup + w x (CE(aug clean) + KL), KL = 0.5 x
KL(p_aug || p_noisy^T) + 0.5 x KL(p_noisy || p_aug^T), targets detached, temperature only on
the input side, summed over the batch (`KLDivLoss(reduction="sum")`); the GMM split starts
when epoch > warmup (epochs 0..warmup train the full loss with every sample clean).
`loss="legacy"` is this benchmark's earlier loss: plain cross-entropy for `warmup_epochs`
epochs, ramp from the end of the warm-up, 0.5 x batch-mean symmetric KL with the temperature on
both sides and no detached target. `mixup_ramp=False` leaves mixup unweighted (legacy).

The encoder is either frozen (embeddings computed once through the embedding cache, only a
linear head trains: the CPU recipe) or fine-tuned with the head (GPU recipe).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from benchmark.case.spec import FreeALShared, FreeALSpec
from benchmark.encoders.embedder import mean_pool
from benchmark.freeal.selection import clean_mask


@dataclass(frozen=True)
class RobustConfig:
    """Training hyper-parameters (defaults follow REFERENCE.md where it gives them)."""

    epochs: int = 30
    warmup_epochs: int = 3
    rampup_epochs: int = 10
    lr: float = 0.1
    weight_decay: float = 0.01
    batch_size: int = 32
    mixup_alpha: float = 4.0
    temperature: float = 0.85
    kl_weight: float = 0.5
    clean_threshold: float = 0.7
    class_balanced: bool = False
    min_per_class: int = 0
    loss: str = "freeal"  # "freeal" | "legacy" (see the module docstring)
    mixup_ramp: bool = True

    @classmethod
    def from_options(cls, options: FreeALSpec, *, lr: float) -> RobustConfig:
        """The recipe of a FreeAL case: the `FreeALShared` options of the same name, the
        case's clean selection and consistency loss, and `lr` (the classifier's when it
        fine-tunes its encoder)."""
        names = [f.name for f in fields(cls) if f.name in FreeALShared.model_fields]
        balanced = options.clean_selection == "class_balanced"
        shared = cls(**{name: getattr(options, name) for name in names})
        return replace(
            shared,
            lr=lr,
            class_balanced=balanced,
            min_per_class=options.min_per_class if balanced else 0,
            loss=options.consistency_loss,
        )


@dataclass
class RobustResult:
    """What one training run leaves: the model, and its view of the pool."""

    model: Any
    losses: np.ndarray
    clean: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)


class FrozenFeatures:
    """Sentence embeddings of a frozen encoder, computed once (disk-cached)."""

    trainable = False

    def __init__(self, embedder):
        self.embedder = embedder
        self.dim = embedder.dim
        self._memo: dict[str, np.ndarray] = {}

    def prepare(self, texts: Sequence[str]) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if todo:
            self._memo.update(zip(todo, self.embedder.encode(todo), strict=True))

    def __call__(self, texts: Sequence[str]):
        import torch

        self.prepare(texts)
        return torch.from_numpy(np.stack([self._memo[t] for t in texts]))

    def parameters(self):
        return []

    def train(self, mode: bool = True) -> None:
        pass


class TrainableEncoder:
    """A transformers encoder fine-tuned with the head (mean pooling, E5 prefix)."""

    trainable = True

    def __init__(self, source: str, *, max_length: int = 128, device=None, prefix: str = "query: "):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.model = AutoModel.from_pretrained(source).to(self.device)
        self.dim = int(self.model.config.hidden_size)
        self.max_length, self.prefix = max_length, prefix

    def prepare(self, texts: Sequence[str]) -> None:
        pass

    def __call__(self, texts: Sequence[str]):
        enc = self.tokenizer(
            [self.prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)

        return mean_pool(self.model(**enc).last_hidden_state, enc["attention_mask"])

    def parameters(self):
        return self.model.parameters()

    def train(self, mode: bool = True) -> None:
        self.model.train(mode)


class SmallModel:
    """Featurizer + linear head; `predict_proba` over texts."""

    def __init__(self, features, n_classes: int, *, seed: int, dropout: float = 0.1):
        import torch

        torch.manual_seed(seed)
        self.features = features
        self.head = torch.nn.Sequential(
            torch.nn.Dropout(dropout), torch.nn.Linear(features.dim, n_classes)
        )
        device = getattr(features, "device", None)
        if device is not None:
            self.head.to(device)

    def train(self, mode: bool = True) -> None:
        self.features.train(mode)
        self.head.train(mode)

    def parameters(self):
        return [*self.features.parameters(), *self.head.parameters()]

    def predict_proba(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        import torch

        self.train(False)
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                feats = self.features(list(texts[start : start + batch_size]))
                out.append(torch.softmax(self.head(feats).float(), -1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.head[-1].out_features))


def per_sample_losses(model: SmallModel, texts: Sequence[str], targets: np.ndarray) -> np.ndarray:
    """Cross-entropy of each sample against its (noisy) label, in eval mode."""
    probs = model.predict_proba(texts)
    return -np.log(np.clip(probs[np.arange(len(targets)), targets], 1e-12, None))


def train_robust(
    features,
    texts: Sequence[str],
    targets: Sequence[int],
    *,
    n_classes: int,
    augmented: Sequence[str] | None,
    config: RobustConfig,
    seed: int,
) -> RobustResult:
    """Train a small model on noisy labels with FreeAL's robust recipe.

    Args:
        features: a `FrozenFeatures` or `TrainableEncoder`.
        texts: the pool texts with an LLM label.
        targets: label indices (the LLM's).
        n_classes: size of the label set.
        augmented: one augmented text per pool text (back-translation or paraphrase), or None
            to train without consistency regularisation.
        config: hyper-parameters.
        seed: torch / GMM / shuffling seed.

    Returns:
        The trained model, final per-sample losses, clean mask, predictions and confidence.
    """
    import torch

    texts = list(texts)
    y = torch.tensor(list(targets), dtype=torch.long)
    features.prepare(texts + list(augmented or []))
    model = SmallModel(features, n_classes, seed=seed)
    y = y.to(next(iter(model.head.parameters())).device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(seed)
    beta = torch.distributions.Beta(config.mixup_alpha, config.mixup_alpha)
    torch.manual_seed(seed)
    run = _Training(model, texts, y, y.cpu().numpy(), augmented, config, seed, n_classes)
    history = [
        _train_epoch(run, epoch, optimizer, generator, beta) for epoch in range(config.epochs)
    ]
    losses = per_sample_losses(model, texts, run.y_np)
    clean = _select_clean(losses, run.y_np, config, seed)
    probs = model.predict_proba(texts)
    return RobustResult(model, losses, clean, probs.argmax(1), probs.max(1), history)


@dataclass
class _Training:
    """What every epoch of one `train_robust` call works on."""

    model: SmallModel
    texts: list[str]
    y: Any  # label tensor on the model's device
    y_np: np.ndarray
    augmented: Sequence[str] | None
    config: RobustConfig
    seed: int
    n_classes: int


def _train_epoch(run: _Training, epoch: int, optimizer, generator, beta) -> dict[str, float]:
    """One epoch: the clean split (all clean in the warm-up), then a pass over shuffled
    batches; returns the epoch's mean loss and clean share."""
    import torch

    config, texts, y_np = run.config, run.texts, run.y_np
    warm = in_warmup(config, epoch)
    clean = (
        np.ones(len(texts), dtype=bool)
        if warm
        else _select_clean(per_sample_losses(run.model, texts, y_np), y_np, config, run.seed)
    )
    weights = (
        _class_weights(y_np[clean], run.n_classes, run.y.device) if config.class_balanced else None
    )
    run.model.train(True)
    order = torch.randperm(len(texts), generator=generator).tolist()
    steps = max(1, -(-len(texts) // config.batch_size))
    total = 0.0
    for step, start in enumerate(range(0, len(order), config.batch_size)):
        idx = order[start : start + config.batch_size]
        loss = _batch_loss(
            run, idx, clean, weights, beta, warm=warm, epoch=epoch, progress=step / steps
        )
        if loss is None:
            continue
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return {"epoch": epoch, "loss": total / len(texts), "clean_share": float(clean.mean())}


def _batch_loss(
    run: _Training, idx, clean, weights, beta, *, warm: bool, epoch: int, progress: float
):
    """The loss of one batch: plain cross-entropy in a legacy warm-up, else the robust loss."""
    import torch
    import torch.nn.functional as F

    config = run.config
    feats = run.model.features([run.texts[i] for i in idx])
    if warm and config.loss == "legacy":
        return F.cross_entropy(run.model.head(feats), run.y[idx])
    ramp = ramp_weight(config, epoch, progress)
    return _robust_loss(
        run.model,
        feats,
        run.y[idx],
        torch.as_tensor(clean[idx], device=run.y.device),
        [run.augmented[i] for i in idx] if run.augmented is not None else None,
        ramp=ramp,
        mixup_weight=ramp if config.mixup_ramp else 1.0,
        weights=weights,
        beta=beta,
        config=config,
    )


def _select_clean(losses, labels, config: RobustConfig, seed: int) -> np.ndarray:
    return clean_mask(
        losses,
        labels,
        threshold=config.clean_threshold,
        class_balanced=config.class_balanced,
        min_per_class=config.min_per_class,
        seed=seed,
    )


def _class_weights(labels: np.ndarray, n_classes: int, device):
    """Inverse-frequency weights over the clean samples (mean 1; absent classes get 1)."""
    import torch

    counts = np.bincount(labels, minlength=n_classes).astype(float)
    weights = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 1.0)
    return torch.tensor(weights, dtype=torch.float32, device=device)


def in_warmup(config: RobustConfig, epoch: int) -> bool:
    """Whether every sample counts as clean this epoch.

    FreeAL selects with the GMM only `if epoch > args.warmup` (mytrainer.py), i.e. epochs
    0..warmup are warm-up; legacy: epochs 0..warmup-1.
    """
    if config.loss == "freeal":
        return epoch <= config.warmup_epochs
    return epoch < config.warmup_epochs


def ramp_weight(config: RobustConfig, epoch: int, progress: float) -> float:
    """Weight of the unsupervised part at `progress` (0..1) through `epoch`.

    FreeAL: `linear_rampup(self.state.epoch, 10)`, the trainer's fractional epoch, from the
    first step; legacy: linear over `rampup_epochs` epochs from the end of the warm-up.
    """
    if config.loss == "freeal":
        return min(1.0, (epoch + progress) / config.rampup_epochs)
    return max(0.0, min(1.0, (epoch - config.warmup_epochs + 1) / config.rampup_epochs))


def consistency_kl(logits, logits_aug, *, temperature: float, loss: str = "freeal"):
    """Symmetric KL between predictions on samples and their augmentations.

    freeal (`MyTrainer.compute_loss`, `loss_cr_un`): 0.5 x KL(p_aug || softmax(z / T)) +
    0.5 x KL(p || softmax(z_aug / T)), each target detached and at temperature 1, summed over
    the batch. legacy: 0.5 x (KL(q || p) + KL(p || q)) with both at temperature T, batch mean.
    """
    import torch.nn.functional as F

    if loss == "freeal":
        return 0.5 * F.kl_div(
            F.log_softmax(logits / temperature, -1),
            F.softmax(logits_aug.detach(), -1),
            reduction="sum",
        ) + 0.5 * F.kl_div(
            F.log_softmax(logits_aug / temperature, -1),
            F.softmax(logits.detach(), -1),
            reduction="sum",
        )
    p = F.log_softmax(logits / temperature, -1)
    q = F.log_softmax(logits_aug / temperature, -1)
    return 0.5 * (
        F.kl_div(p, q, log_target=True, reduction="batchmean")
        + F.kl_div(q, p, log_target=True, reduction="batchmean")
    )


def _robust_loss(model, feats, y, clean, aug_texts, *, ramp, mixup_weight, weights, beta, config):
    """Clean CE + weighted mixup on clean + ramped (CE on augmented clean + KL noisy vs aug)."""
    import torch
    import torch.nn.functional as F

    parts = []
    if clean.any():
        fc, yc = feats[clean], y[clean]
        parts.append(F.cross_entropy(model.head(fc), yc, weight=weights))
        # FreeAL mixes any clean subset (a single sample mixes with itself); legacy needed two
        if (len(yc) > 1 or config.loss == "freeal") and mixup_weight > 0:
            lam = float(beta.sample())
            lam = max(lam, 1 - lam)
            perm = torch.randperm(len(yc))
            mixed = model.head(lam * fc + (1 - lam) * fc[perm])
            parts.append(
                mixup_weight
                * (
                    lam * F.cross_entropy(mixed, yc, weight=weights)
                    + (1 - lam) * F.cross_entropy(mixed, yc[perm], weight=weights)
                )
            )
    if aug_texts is not None and ramp > 0:
        aug = model.features(aug_texts)
        unsup = []
        if clean.any():
            unsup.append(F.cross_entropy(model.head(aug[clean]), y[clean], weight=weights))
        noisy = ~clean
        if noisy.any():
            kl = consistency_kl(
                model.head(feats[noisy]),
                model.head(aug[noisy]),
                temperature=config.temperature,
                loss=config.loss,
            )
            unsup.append(kl if config.loss == "freeal" else config.kl_weight * kl)
        if unsup:
            parts.append(ramp * sum(unsup))
    return sum(parts) if parts else None
