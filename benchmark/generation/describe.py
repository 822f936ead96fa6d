"""Label descriptions: human-written ones, and LLM summaries of k gold examples per label.

Summaries are stored as YAML data files per (dataset, model, k) under
`<bench-out>/descriptions/`, made once and reused; `lowres-bench describe` regenerates them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from benchmark.case.records import write_text_atomic
from benchmark.case.spec import _slug
from benchmark.data.loaders import sample_per_label
from benchmark.data.source import DataSource
from benchmark.generation.prompts import PROMPT_VERSION, description_messages
from benchmark.llm.backend import ChatRequest, SamplingParams


def descriptions_path(out_dir: Path, dataset: str, model: str, k: int) -> Path:
    return out_dir / "descriptions" / f"{dataset}-{_slug(model)}-k{k}.yaml"


def clean_summary(text: str) -> str:
    """First non-empty paragraph of a reply, on one line, without markdown emphasis."""
    paragraphs = [p.strip() for p in text.replace("\r", "").split("\n\n") if p.strip()]
    first = paragraphs[0] if paragraphs else ""
    return " ".join(first.replace("**", "").split())


def summarise_labels(
    dataset: str, *, backend, model: str, k: int, seed: int, data: DataSource
) -> dict[str, Any]:
    """Ask the LLM for one short description per label from k English gold train examples.

    Returns:
        A mapping with the descriptions and how they were made.
    """

    train = data.split(dataset, "en", "train")
    labels = data.labels(dataset)
    requests = []
    for label in labels:
        examples = [e.text for e in sample_per_label(train, k, seed=seed, labels=[label])]
        messages = description_messages(label=label, examples=examples, dataset_name=dataset)
        requests.append(
            ChatRequest(messages, SamplingParams(temperature=0.0, max_new_tokens=160, seed=seed))
        )
    replies = backend.generate(requests)
    descriptions = {}
    for label, reply in zip(labels, replies, strict=True):
        descriptions[label] = clean_summary(reply.text) or label
    return {
        "dataset": dataset,
        "model": model,
        "model_fingerprint": backend.fingerprint,
        "k": k,
        "seed": seed,
        "prompt_version": PROMPT_VERSION,
        "source": train.fingerprint,
        "descriptions": descriptions,
    }


def summarised_descriptions(
    dataset: str,
    *,
    model: str,
    k: int,
    out_dir: Path,
    backend_factory,
    data: DataSource,
    force: bool = False,
) -> dict[str, str]:
    """Stored summaries for (dataset, model, k), made (and saved) on first use."""
    path = descriptions_path(out_dir, dataset, model, k)
    if path.is_file() and not force:
        stored = yaml.safe_load(path.read_text(encoding="utf-8"))
        return stored["descriptions"]
    made = summarise_labels(dataset, backend=backend_factory(), model=model, k=k, seed=0, data=data)
    write_text_atomic(path, yaml.safe_dump(made, allow_unicode=True, sort_keys=False, width=100))
    return made["descriptions"]
