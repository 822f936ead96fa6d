"""FreeAL's own semantics (Justherozen/FreeAL `mytrainer.py`) next to the legacy variants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.case.spec import FreeALSpec
from benchmark.freeal.selection import confident_agreeing
from benchmark.freeal.train import (
    RobustConfig,
    SmallModel,
    _robust_loss,
    consistency_kl,
    in_warmup,
    ramp_weight,
)
from benchmark.report.freeal_tables import budget_columns, freeal_tables, variant


def test_freeal_kl_puts_the_temperature_on_the_input_side_only():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.3, 0.0]])
    same = logits.clone()
    # identical views: legacy (T on both sides) sees no disagreement, FreeAL's sharpened input
    # against an unsharpened target does
    assert consistency_kl(logits, same, temperature=0.85, loss="legacy").item() == pytest.approx(0)
    assert consistency_kl(logits, same, temperature=0.85, loss="freeal").item() > 1e-3
    assert consistency_kl(logits, same, temperature=1.0, loss="freeal").item() == pytest.approx(
        0, abs=1e-6
    )


def test_freeal_kl_is_summed_over_the_batch():
    a, b = torch.randn(4, 5), torch.randn(4, 5)
    twice = (torch.cat([a, a]), torch.cat([b, b]))
    freeal = consistency_kl(a, b, temperature=0.85, loss="freeal")
    legacy = consistency_kl(a, b, temperature=0.85, loss="legacy")
    assert consistency_kl(*twice, temperature=0.85, loss="freeal") == pytest.approx(2 * freeal)
    assert consistency_kl(*twice, temperature=0.85, loss="legacy") == pytest.approx(legacy)


def test_freeal_kl_targets_are_detached():
    """d/dz of 0.5 KL(p_aug || softmax(z / T)) is 0.5 (softmax(z / T) - p_aug) / T; the term
    where z is the target adds nothing."""
    t = 0.85
    z = torch.randn(3, 4, requires_grad=True)
    z_aug = torch.randn(3, 4, requires_grad=True)
    consistency_kl(z, z_aug, temperature=t, loss="freeal").backward()
    expected = 0.5 * (torch.softmax(z / t, -1) - torch.softmax(z_aug, -1)) / t
    assert torch.allclose(z.grad, expected.detach(), atol=1e-6)
    z.grad = None
    consistency_kl(z, z_aug, temperature=t, loss="legacy").backward()
    assert not torch.allclose(z.grad, expected.detach(), atol=1e-3)


def test_ramp_and_warmup_schedules():
    study = RobustConfig(warmup_epochs=3, rampup_epochs=10)
    legacy = RobustConfig(warmup_epochs=3, rampup_epochs=10, loss="legacy")
    # FreeAL: linear_rampup(state.epoch, 10) from the first step; GMM split once epoch > warmup
    assert ramp_weight(study, 0, 0.0) == 0.0
    assert ramp_weight(study, 4, 0.5) == pytest.approx(0.45)
    assert ramp_weight(study, 12, 0.0) == 1.0
    assert [in_warmup(study, e) for e in range(5)] == [True] * 4 + [False]
    # legacy: ramp starts after a 3-epoch cross-entropy warm-up
    assert [in_warmup(legacy, e) for e in range(5)] == [True] * 3 + [False] * 2
    assert ramp_weight(legacy, 3, 0.0) == pytest.approx(0.1)


class Identity:
    """Frozen 'features' that are the inputs themselves."""

    dim = 4
    trainable = False

    def parameters(self):
        return []

    def train(self, mode=True):
        pass


@pytest.mark.parametrize("mixup_weight", [0.0, 0.3, 1.0])
def test_mixup_is_weighted(mixup_weight):
    model = SmallModel(Identity(), 3, seed=0, dropout=0.0)
    feats = torch.eye(4)[[0, 1, 2, 3, 0, 1]] * 3
    y = torch.tensor([0, 1, 2, 0, 0, 1])
    clean = torch.ones(6, dtype=torch.bool)
    config = RobustConfig()
    plain = torch.nn.functional.cross_entropy(model.head(feats), y)

    def loss(weight):
        torch.manual_seed(0)
        beta = torch.distributions.Beta(4.0, 4.0)
        return _robust_loss(
            model,
            feats,
            y,
            clean,
            None,
            ramp=0.5,
            mixup_weight=weight,
            weights=None,
            beta=beta,
            config=config,
        ).item()

    mixup_part = loss(1.0) - plain.item()
    assert mixup_part > 0
    assert loss(mixup_weight) == pytest.approx(plain.item() + mixup_weight * mixup_part, rel=1e-5)


def test_confident_agreeing_keeps_the_top_fifth_rounded_down():
    predicted = ["a"] * 11 + ["b"] * 4 + ["c"] * 5
    llm = ["a"] * 10 + ["b"] + ["b"] * 4 + ["a"] * 5  # 10 a agree, 4 b agree, c never agrees
    confidence = np.linspace(0.1, 0.99, 20)
    out = confident_agreeing(predicted, llm, confidence, classes=["a", "b", "c"], fraction=0.2)
    assert out["a"] == [9, 8]  # int(10 x 0.2) = 2, most confident first (row 10 disagrees)
    assert out["b"] == []  # int(4 x 0.2) = 0: FreeAL skips the class
    assert out["c"] == []  # no agreement, no fallback


def _record(calibration, *, same_budget, finals=(40.0, 50.0, 60.0), fa_extra=None):
    fa = {
        "demo_source": "gold",
        "clean_selection": "reference",
        "consistency": "backtranslation",
        "calibration": calibration,
        "pool_size": 100,
        "refinement": "freeal",
        "consistency_loss": "freeal",
        "mixup_ramp": True,
        **(fa_extra or {}),
    }
    rnd = {
        "label_accuracy": 50.0,
        "abstention_share": 0.0,
        "clean": 80,
        "kept": 0,
        "test_macro_f1": 50.0,
        "collapsing": [],
    }
    per_seed = [
        {
            "seed": i,
            "final": {"macro_f1": f},
            "supervised_reference": {"macro_f1": 70.0},
            "same_budget_reference": {"macro_f1": 55.0, "n": 140} if same_budget else None,
            "pool": {"label_counts": {"x": 100, "None": 0}},
            "rounds": [{"round": 0, "label_counts": {"x": 100, "None": 0}}],
        }
        for i, f in enumerate(finals)
    ]
    return {
        "case_id": f"case-{calibration}",
        "labels": ["x"],
        "spec": {
            "setting": "freeal",
            "dataset": "sib200",
            "language": "de",
            "model": "m",
            "freeal": fa,
        },
        "freeal": {"per_seed": per_seed, "rounds": [rnd]},
    }


def test_budget_columns_compare_freeal_with_gold_at_the_same_budget():
    freeal, gold, delta = budget_columns(_record("none", same_budget=True))
    assert freeal == "50.0 ± 10.0"
    assert gold == "55.0 ± 0.0 (n=140)"
    assert delta == "-5.0"
    assert budget_columns(_record("none", same_budget=False))[1:] == ("-", "-")


def test_table_tells_calibrated_from_uncalibrated_rows():
    table = freeal_tables([_record("none", same_budget=True), _record("batch", same_budget=True)])
    rows = [line for line in table.splitlines() if line.startswith("| sib200")]
    assert len(rows) == 2 and rows[0] != rows[1]
    assert "cal." in table and "gold@budget F1" in table
    assert any("| batch " in r for r in rows) and any("| none " in r for r in rows)


def test_variant_names_deviations_and_old_records():
    def fa(**stored):
        axes = {"demo_source": "gold", "clean_selection": "reference", "consistency": "none"}
        return FreeALSpec.of({**axes, **stored})

    assert variant(fa(refinement="freeal", consistency_loss="freeal", mixup_ramp=True)) == "study"
    assert variant(fa()) == "legacy"
    assert variant(fa(refinement="noisy_only", consistency_loss="freeal", mixup_ramp=False)) == (
        "refinement=noisy_only, mixup_ramp=False"
    )


@pytest.mark.parametrize("selection", ["reference", "class_balanced"])
def test_robust_config_takes_the_shared_freeal_options_by_name(selection):
    options = FreeALSpec.of(
        {
            "demo_source": "gold",
            "clean_selection": selection,
            "consistency": "none",
            "epochs": 7,
            "temperature": 0.5,
            "min_per_class": 3,
            "consistency_loss": "freeal",
        }
    )
    config = RobustConfig.from_options(options, lr=0.25)
    assert (config.epochs, config.temperature, config.lr, config.loss) == (7, 0.5, 0.25, "freeal")
    assert config.mixup_ramp is options.mixup_ramp is False  # legacy default of old specs
    balanced = selection == "class_balanced"
    assert config.class_balanced is balanced and config.min_per_class == (3 if balanced else 0)
    assert config.weight_decay == RobustConfig().weight_decay  # not a FreeAL option
