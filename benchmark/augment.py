"""Augmenting the gold demos: classic edits (EDA), LLM paraphrase, LLM back-translation.

The demos are the gold train sample the generation strategies show the LLM
(`generation.demos_per_label` per label, drawn with the generation seed); their variants
are added to a case's training data (`augmentations:` axis of a task file).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmark import progress
from benchmark.case.spec import CaseSpec
from benchmark.context import RunContext
from benchmark.data.languages import resolve_language
from benchmark.data.loaders import Example, sample_per_label
from benchmark.generation.chat_model import chat_model
from benchmark.generation.parse import parse_samples
from benchmark.generation.prompts import paraphrase_messages, translation_messages
from benchmark.llm.backend import ChatRequest, SamplingParams
from benchmark.registry import Registry


@dataclass(frozen=True)
class Augmenter:
    """One augmentation: `variants(texts, *, seed, language_name, backend)` gives one variant
    per text; `backend` (the case's LLM) and `language_name` are None unless `uses_llm`."""

    variants: Callable[..., list[str]]
    uses_llm: bool = False


AUGMENTERS: Registry[Augmenter] = Registry("augmentation")


def eda(text: str, *, rng: random.Random, rate: float = 0.1) -> str:
    """One classic edit pass: random word swap, deletion, duplication-insertion, character noise."""
    words = text.split()
    if len(words) < 2:
        return text
    n = max(1, int(rate * len(words)))
    op = rng.choice(("swap", "delete", "insert", "char"))
    for _ in range(n):
        i, j = rng.randrange(len(words)), rng.randrange(len(words))
        if op == "swap":
            words[i], words[j] = words[j], words[i]
        elif op == "delete" and len(words) > 1:
            del words[i]
        elif op == "insert":
            words.insert(j, words[i])
        elif op == "char" and len(words[i]) > 3:
            k = rng.randrange(len(words[i]) - 1)
            w = words[i]
            words[i] = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
    return " ".join(words)


def eda_variants(texts: Sequence[str], *, seed: int, copies: int = 1) -> list[str]:
    """`copies` edited variants per text (seeded)."""
    rng = random.Random(seed)
    return [eda(t, rng=rng) for t in texts for _ in range(copies)]


def _eda_augmenter(texts: Sequence[str], *, seed: int, **_) -> list[str]:
    return eda_variants(texts, seed=seed)


def _first_line(text: str, fallback: str) -> str:
    parsed = parse_samples(text, min_chars=1, max_chars=1000)
    return parsed.samples[0] if parsed.samples else fallback


def llm_paraphrases(texts: Sequence[str], *, language_name: str, backend, seed: int) -> list[str]:
    """One LLM paraphrase per text, in its language (one batched call)."""

    requests = [
        ChatRequest(
            paraphrase_messages(text=t, language_name=language_name),
            SamplingParams(temperature=0.7, max_new_tokens=128, seed=seed + i),
        )
        for i, t in enumerate(texts)
    ]
    with progress.counter(f"paraphrases into {language_name}", len(requests)) as done:
        replies = backend.generate(requests, on_result=done)
    return [_first_line(r.text, t) for t, r in zip(texts, replies, strict=True)]


def llm_backtranslations(
    texts: Sequence[str], *, language_name: str, backend, seed: int
) -> list[str]:
    """Target -> English -> target with the LLM (two batched calls, greedy)."""

    def translate(items: Sequence[str], source: str, target: str) -> list[str]:
        requests = [
            ChatRequest(
                translation_messages(
                    text=t, source_language_name=source, target_language_name=target
                ),
                SamplingParams(temperature=0.0, max_new_tokens=128, seed=seed),
            )
            for t in items
        ]
        with progress.counter(f"back-translation {source} -> {target}", len(requests)) as done:
            replies = backend.generate(requests, on_result=done)
        return [_first_line(r.text, t) for t, r in zip(items, replies, strict=True)]

    return translate(translate(texts, language_name, "English"), "English", language_name)


AUGMENTERS.add("eda", Augmenter(_eda_augmenter))
AUGMENTERS.add("paraphrase", Augmenter(llm_paraphrases, uses_llm=True))
AUGMENTERS.add("backtranslation", Augmenter(llm_backtranslations, uses_llm=True))


def augmented_demos(
    spec: CaseSpec, ctx: RunContext, *, seed: int
) -> tuple[list[Example], dict[str, Any]]:
    """The case's augmented gold demos, as training examples (split "augmented")."""

    method = spec.augmentation.method
    augmenter = AUGMENTERS.get(method)
    k = (spec.generation and spec.generation.demos_per_label) or spec.augmentation.demos_per_label
    train = ctx.data.split(spec.dataset, spec.language, "train")
    demos = sample_per_label(train, k, seed=seed)
    texts = [e.text for e in demos]
    backend = language = writer = None
    if augmenter.uses_llm:
        writer, backend = chat_model(spec.generation, spec.model, ctx.backends)
        language = resolve_language(spec.language).name
        progress.stage(f"{method}: {len(texts)} gold demos rewritten by {writer}")
    variants = augmenter.variants(texts, language_name=language, backend=backend, seed=seed)
    examples = [
        Example(text=v, label=d.label, uid=f"aug-{method}-{i}", split="augmented")
        for i, (d, v) in enumerate(zip(demos, variants, strict=True))
        if v.strip() and v.strip() != d.text.strip()
    ]
    info = {"method": method, "demos": len(demos), "variants": len(examples)}
    if writer is not None and writer != spec.model:
        info["written_by"] = writer  # a chat model, as the case's model is a base model
    return examples, info
