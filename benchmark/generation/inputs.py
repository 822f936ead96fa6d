"""What a case's prompts show: demos per label (translated when asked) and label descriptions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from benchmark import progress
from benchmark.case.spec import CaseSpec, GenerationOptions
from benchmark.context import RunContext
from benchmark.data.languages import resolve_language
from benchmark.data.loaders import sample_per_label
from benchmark.data.source import DataSource
from benchmark.generation.chat_model import chat_model
from benchmark.generation.describe import summarised_descriptions
from benchmark.generation.labels import human_description
from benchmark.generation.parse import parse_samples
from benchmark.generation.prompts import translation_messages
from benchmark.llm.backend import ChatRequest, SamplingParams
from benchmark.strategies import GenerationStrategy


@dataclass(frozen=True)
class GenerationInputs:
    """What the prompts of one generated set show.

    Attributes:
        demos: demo texts per label.
        descriptions: the description each generation prompt shows per label.
        revision_descriptions: the description each revision prompt shows per label.
        translator: the model that translated the demos (the case's model when none did).
    """

    demos: dict[str, list[str]]
    descriptions: dict[str, str | None]
    revision_descriptions: dict[str, str | None]
    translator: str


def generation_inputs(
    spec: CaseSpec, strategy: GenerationStrategy, ctx: RunContext, *, backend, seed: int
) -> GenerationInputs:
    """Demos (drawn with `seed`, translated by a chat model when asked) and descriptions."""
    gen = spec.generation
    translator, translator_backend = spec.model, backend
    if strategy.demos == "translated":
        try:
            translator, translator_backend = chat_model(gen, spec.model, ctx.backends)
        except ValueError as err:
            raise ValueError(f"{spec.case_id}: translated_demos: {err}") from None
        progress.stage(
            f"translating {gen.demos_per_label} English demos per label into "
            f"{resolve_language(spec.language).name} with {translator}"
        )
    demos = build_demos(spec, strategy, data=ctx.data, backend=translator_backend, seed=seed)
    descriptions = label_descriptions(spec, strategy, ctx=ctx)
    return GenerationInputs(
        demos=demos,
        descriptions=descriptions,
        revision_descriptions=revision_descriptions(spec, strategy, ctx, descriptions),
        translator=translator,
    )


def revision_descriptions(
    spec: CaseSpec,
    strategy: GenerationStrategy,
    ctx: RunContext,
    descriptions: dict[str, str | None],
) -> dict[str, str | None]:
    """The description each revision prompt shows: by default the summarised one, always
    (the study's code); `revision_description: strategy` shows the strategy's only."""
    which = spec.generation.revision_description
    if not strategy.revision or which in ("strategy", strategy.description):
        return descriptions
    return label_descriptions(spec, replace(strategy, description=which), ctx=ctx)


def build_demos(
    spec: CaseSpec, strategy: GenerationStrategy, *, data: DataSource, backend, seed: int
) -> dict[str, list[str]]:
    """Demos per label from the gold train split (never dev/test), translated if asked."""
    labels = data.labels(spec.dataset)
    k = spec.generation.demos_per_label
    if strategy.demos == "none" or k == 0:
        return {label: [] for label in labels}
    source = "en" if strategy.demos in ("english", "translated") else spec.language
    train = data.split(spec.dataset, source, "train")
    demos: dict[str, list[str]] = defaultdict(list)
    for example in sample_per_label(train, k, seed=seed):
        demos[example.label].append(example.text)
    if strategy.demos == "translated":
        demos = translate_demos(demos, spec=spec, backend=backend, seed=seed)
    return {label: demos.get(label, []) for label in labels}


def translate_demos(
    demos: dict[str, list[str]], *, spec: CaseSpec, backend, seed: int
) -> dict[str, list[str]]:
    """English demos translated into the case language by the LLM (greedy, first line kept)."""

    target = resolve_language(spec.language).name
    flat = [(label, text) for label, texts in demos.items() for text in texts]
    requests = [
        ChatRequest(
            translation_messages(
                text=text, source_language_name="English", target_language_name=target
            ),
            SamplingParams(temperature=0.0, max_new_tokens=128, seed=seed),
        )
        for _, text in flat
    ]
    out: dict[str, list[str]] = defaultdict(list)
    with progress.counter(f"demo translation into {target}", len(requests)) as done:
        replies = backend.generate(requests, on_result=done)
    for (label, text), reply in zip(flat, replies, strict=True):
        parsed = parse_samples(
            reply.text, min_chars=1, max_chars=400, finish_reason=reply.finish_reason
        )
        out[label].append(parsed.samples[0] if parsed.samples else text)
    return dict(out)


def label_descriptions(
    spec: CaseSpec, strategy: GenerationStrategy, *, ctx: RunContext
) -> dict[str, str | None]:
    """The description shown per label (none, human-written, or LLM-summarised).

    Summaries come from `generation.descriptions_file` when set (a YAML file with a
    `descriptions: {label: text}` mapping, e.g. written once by a strong model, as the study did),
    else from `generation.description_model` (default: the revision model when one is set, as a
    base generator cannot summarise by chat; else the case's model).
    """

    labels = ctx.data.labels(spec.dataset)
    if strategy.description == "none":
        return dict.fromkeys(labels)
    if strategy.description == "human":
        return {label: human_description(spec.dataset, label) for label in labels}
    gen = spec.generation
    if gen.descriptions_file:
        return read_descriptions_file(Path(gen.descriptions_file), labels)
    model = gen.description_model or gen.revision_model or spec.model
    summaries = summarised_descriptions(
        spec.dataset,
        model=model,
        k=gen.description_examples,
        out_dir=ctx.results_dir.parent,
        backend_factory=lambda: ctx.backends(gen, model),
        data=ctx.data,
    )
    return {label: summaries.get(label) for label in labels}


def read_descriptions_file(path: Path, labels: tuple[str, ...]) -> dict[str, str | None]:
    """Label descriptions from a YAML file; every label of the dataset must have one."""
    import yaml

    try:
        stored = yaml.safe_load(path.read_text(encoding="utf-8"))
        found = stored["descriptions"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"generation.descriptions_file {path}: cannot read a `descriptions:` mapping ({err})"
        ) from None
    missing = [label for label in labels if not found.get(label)]
    if missing:
        raise ValueError(f"generation.descriptions_file {path}: no description for {missing}")
    return {label: str(found[label]) for label in labels}


def descriptions_author(spec: CaseSpec, strategy: GenerationStrategy) -> str | None:
    """Who wrote the descriptions a case shows (in its generation or revision prompts): a file,
    a model, humans, or nobody (None)."""
    gen = spec.generation or GenerationOptions()
    kind = strategy.description
    if kind == "none" and strategy.revision:
        shown = gen.revision_description
        kind = "none" if shown == "strategy" else shown
    if kind == "none":
        return None
    if kind == "human":
        return "human-written"
    if gen.descriptions_file:
        return f"file {gen.descriptions_file}"
    return f"model {gen.description_model or gen.revision_model or spec.model}"
