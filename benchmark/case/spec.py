"""Task files: the YAML schema, its validation errors, and the expansion into cases."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from benchmark.errors import capped
from benchmark.registry import Registry

# Seeds per case (and generated sets per case): the study uses 10 (and 3); 10x that is a typo.
MAX_SEEDS = 100


class TaskFileError(ValueError):
    """A task file is malformed: names the file, the key, what was expected and close matches."""

    def __init__(
        self,
        path: Path | str,
        key: str,
        message: str,
        *,
        value: str | None = None,
        choices: Sequence[str] = (),
    ):
        self.path, self.key = str(path), key
        hint = did_you_mean(value, choices) if value is not None and choices else ""
        if choices:
            hint += f"; expected one of: {', '.join(choices)}"
        super().__init__(capped(f"{self.path}: {key}: {message}{hint}"))


def seed_list(value: Any, what: str) -> Any:
    """`seeds:` as written: a count (1 to `MAX_SEEDS`) becomes `range(count)`; a list is
    capped at `MAX_SEEDS` entries; anything else is left for the schema to refuse."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"a {what} count must be at least 1")
        if value > MAX_SEEDS:
            raise ValueError(f"{value} seeds is more than the {MAX_SEEDS} a case allows")
        return list(range(value))
    if isinstance(value, list) and len(value) > MAX_SEEDS:
        raise ValueError(f"{len(value)} seeds is more than the {MAX_SEEDS} a case allows")
    return value


def did_you_mean(value: str, choices: Sequence[str]) -> str:
    """`(did you mean 'x'?)` for the closest choices, or an empty string."""
    close = difflib.get_close_matches(value, list(choices), n=3, cutoff=0.5)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


class _Strict(BaseModel):
    """A frozen options model that is also a case's typed sub-spec.

    A sub-spec remembers which fields it was given (pydantic's `model_fields_set`): `stored()`
    dumps only those, so a spec read back from an old record, which lacks fields added since,
    gives back the same dict (and hash). `legacy_defaults` are the values such a missing
    field had before it existed, where they differ from today's defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    legacy_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Self:
        """The sub-spec of a stored dict: missing fields take their legacy value, unset."""
        full = cls.model_validate({**cls.legacy_defaults, **stored})
        return cls.model_construct(_fields_set=set(stored), **dict(full))

    def stored(self) -> dict[str, Any]:
        """The dict a record keeps (and the spec hash reads): the fields it was given."""
        return self.model_dump(exclude_unset=True)

    def complete(self) -> Self:
        """This sub-spec with every field stored (as cases made from a task file are)."""
        return self.of(self.model_dump())


class ClassifierOptions(_Strict):
    """A classifier's task-file options; subclasses are registered in `CLASSIFIERS`.

    A subclass declares `name: Literal["its-name"]`, its option fields, `slug_prefix` (the
    classifier's part of a case id) and `implementation`: the classifier class or a lazy
    `"module:Class"` string, called as `implementation(options_dict, labels=labels)`.
    """

    slug_prefix: ClassVar[str]
    implementation: ClassVar[object]
    # What FreeAL's small model can build on: "frozen" (`encoder` embeds, a head trains),
    # "trainable" (`encoder` is fine-tuned with `lr` and `max_length`), or None (FreeAL refuses).
    features: ClassVar[Literal["frozen", "trainable"] | None] = None

    def quality_encoder(self) -> str:
        """The sentence encoder the generated setting's quality metrics embed with: the
        classifier's own when it embeds with a frozen encoder, else e5-small."""
        return getattr(self, "encoder", "e5-small") if self.features == "frozen" else "e5-small"

    @classmethod
    def slug_of(cls, options: Mapping[str, Any]) -> str:
        """The case-id part of options given as a dict (as records store them); a classifier
        without an `encoder` option overrides this."""
        return f"{cls.slug_prefix}_{_slug(options['encoder'])}"

    @property
    def slug(self) -> str:
        return self.slug_of(self.model_dump())


CLASSIFIERS: Registry[type[ClassifierOptions]] = Registry("classifier")


# The built-in classifiers: each options model sits beside its implementation and loads on first
# use (a record's spec is read back without importing `benchmark.classifiers`).
CLASSIFIERS.add("embed-logreg", "benchmark.classifiers.embed_logreg:EmbedLogregSpec")
CLASSIFIERS.add("finetune", "benchmark.classifiers.finetune:FinetuneSpec")
DEFAULT_CLASSIFIER = "embed-logreg"


def default_classifiers() -> list[ClassifierOptions]:
    """A task file's classifiers when it names none: the default classifier's default options."""
    return [CLASSIFIERS.get(DEFAULT_CLASSIFIER)()]


class GenerationOptions(_Strict):
    """How generated settings sample, parse and bound their work."""

    backend: str = "transformers"
    seed: int | None = Field(None, description="one generation seed (legacy; prefer `seeds`)")
    seeds: list[int] = Field(
        default_factory=lambda: [0, 1, 2],
        min_length=1,
        description="generation seeds (a count or a list): one generated set per seed",
    )
    demos_per_label: int = Field(10, ge=0)
    description_examples: int = Field(10, gt=0)
    description_model: str | None = Field(
        None, description="writes the summarised label descriptions (default: the case's model)"
    )
    descriptions_file: str | None = Field(
        None, description="YAML file with `descriptions: {label: text}` (overrides the model)"
    )
    per_request: int = Field(10, gt=0, description="samples asked for in one prompt")
    max_attempts: int = Field(30, gt=0, description="prompts per label before giving up")
    max_tokens_per_label: int | None = Field(
        None, gt=0, description="generated tokens per label before giving up (default 400 x n)"
    )
    temperature: float = Field(0.4, ge=0)
    top_p: float = Field(0.9, gt=0, le=1)
    repetition_penalty: float = Field(1.2, gt=0)
    max_new_tokens: int = Field(512, gt=0)
    max_model_len: int = Field(4096, gt=0)
    min_chars: int = Field(10, ge=1)
    max_chars: int = Field(100, ge=1, description="the study keeps 10-100 characters")
    keep_demo_copies: bool = False
    batch_size: int = Field(16, gt=0)
    dtype: str | None = None
    backend_options: dict[str, Any] = Field(default_factory=dict)
    prompt_style: Literal["auto", "chat", "base"] = Field(
        "auto", description="base: few-shot list continuation; auto: base for base-model aliases"
    )
    revision_model: str | None = Field(None, description="model of the revision checks")
    revision_description: Literal["summarised", "human", "strategy"] = Field(
        "summarised",
        description="label description in revision prompts (study: summarised, always); "
        "strategy: only when the strategy shows one",
    )
    revision_reasons: bool = Field(
        True,
        description="ask the reviser why it rejected each sample (stored with the sample, read "
        "by no score); false saves one greedy call per rejection",
    )
    demo_copy_rule: Literal["target", "all", "none"] = Field(
        "target",
        description="which demo prompts say 'do not copy (or translate) the examples above'; "
        "the study's English-demo prompt has no such rule",
    )
    dry_multiplier: float = Field(0.0, ge=0, description="DRY penalty (llamacpp backend only)")

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, value: Any) -> Any:
        return seed_list(value, "generated set")

    def generation_seeds(self) -> list[int]:
        """The seeds of the generated sets: `[seed]` when the legacy single seed is set."""
        return [self.seed] if self.seed is not None else list(self.seeds)


class SelectionOptions(_Strict):
    """How generated settings with a selection build their pool and pick from it."""

    pool_factor: int = Field(3, ge=1, description="generate pool_factor x n per label, keep n")
    encoder: str = "e5-small"
    metric: Literal["cosine", "euclidean"] = "cosine"


CleanSelection = Literal["reference", "class_balanced"]
Consistency = Literal["backtranslation", "paraphrase", "none"]
Calibration = Literal["none", "batch"]


class FreeALShared(_Strict):
    """The FreeAL options every FreeAL case of a task file shares (not its axes)."""

    pool_size: int = Field(200, gt=1, description="gold train texts annotated (labels hidden)")
    rounds: int = Field(2, ge=1, description="round 0 (annotate all) + refinement rounds")
    demos_per_text: int = Field(10, ge=1, description="retrieved demonstrations per text (m)")
    abstain_margin: float = Field(
        0.0, ge=0, description="abstain when the best label's log-prob leads by less than this"
    )
    retrieval_encoder: str = "e5-small"
    clean_threshold: float = Field(0.7, gt=0, lt=1)
    min_per_class: int = Field(5, ge=0, description="class_balanced: clean samples kept per class")
    epochs: int = Field(30, gt=0)
    warmup_epochs: int = Field(3, ge=0)
    rampup_epochs: int = Field(10, ge=1)
    lr: float = Field(0.1, gt=0, description="head lr (frozen encoder); finetune uses its own")
    batch_size: int = Field(32, gt=0)
    mixup_alpha: float = Field(4.0, gt=0)
    temperature: float = Field(0.85, gt=0)
    refinement: Literal["freeal", "noisy_only"] = Field(
        "freeal",
        description="freeal: per class the most confident feedback_fraction of label-agreeing "
        "samples keep their label and form the demo pool, every other text goes back to the LLM "
        "(FreeAL mytrainer.py); noisy_only: GMM-clean samples keep the small model's label, only "
        "GMM-noisy texts are re-annotated (runs before issue 12)",
    )
    feedback_fraction: float = Field(0.2, gt=0, le=1, description="FreeAL's rho_sel")
    consistency_loss: Literal["freeal", "legacy"] = Field(
        "freeal",
        description="freeal: FreeAL's compute_loss (summed symmetric KL, detached targets, "
        "temperature on the input side, ramp from the first step, warm-up = epochs 0..warmup "
        "on the full loss); legacy: 0.5 x batch-mean KL with T on both sides, ramp after a "
        "plain cross-entropy warm-up",
    )
    mixup_ramp: bool = Field(True, description="weight mixup by the ramp (FreeAL) or not (legacy)")


class FreeALOptions(FreeALShared):
    """FreeAL settings: the unlabeled pool, the rounds, and the axes compared across cases.

    `demo_sources`, `clean_selection`, `consistency` and `calibration` are axes (one case per
    combination); the rest applies to every FreeAL case of the file.
    """

    demo_sources: list[str] = Field(
        default_factory=lambda: ["gold"],
        min_length=1,
        description="gold | none | a generation strategy (its samples are the demos)",
    )
    clean_selection: list[CleanSelection] = Field(
        default_factory=lambda: ["reference"], min_length=1
    )
    consistency: list[Consistency] = Field(
        default_factory=lambda: ["backtranslation"], min_length=1
    )
    calibration: list[Calibration] = Field(
        default_factory=lambda: ["none"],
        min_length=1,
        description="batch: divide label probabilities by their mean over the round's pool",
    )

    @field_validator("demo_sources", "clean_selection", "consistency", "calibration", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class FreeALSpec(FreeALShared):
    """A FreeAL case's sub-spec: the shared options and one value of each axis."""

    legacy_defaults = {  # records written before these options
        "calibration": "none",
        "refinement": "noisy_only",
        "consistency_loss": "legacy",
        "mixup_ramp": False,
    }
    demo_source: str
    clean_selection: CleanSelection
    consistency: Consistency
    calibration: Calibration = "none"


class SelectionSpec(SelectionOptions):
    """A generated case's selection: the task file's selection options and the method."""

    method: str


class AugmentationSpec(_Strict):
    """A case's augmentation of its gold demos."""

    method: str
    demos_per_label: int = Field(10, ge=0, description="demos augmented when nothing is generated")


class LanguageGateParams(_Strict):
    """The language gate's parameters (a case's hash changes with them)."""

    max_rank: int
    reject_first: list[str]
    min_lexical_share: float
    char_ngram: int
    vocabulary: list[str]


class ChatterGateParams(_Strict):
    version: str


class GateSetSpec(_Strict):
    """A generated case's gate set: the gates' names and each gate's parameters."""

    names: list[str] = Field(min_length=1)
    language: LanguageGateParams | None = None
    chatter: ChatterGateParams | None = None


class TaskFile(_Strict):
    """One study: the matrix of datasets x languages x settings x models x sizes x classifiers."""

    description: str = ""
    plugins: list[str] = Field(
        default_factory=list,
        description="modules imported before the file is validated (their registrations count)",
    )
    datasets: list[str] = Field(min_length=1)
    languages: list[str] = Field(min_length=1)
    settings: list[str] = Field(min_length=1)
    models: list[str] = Field(default_factory=list)
    samples_per_label: list[Annotated[int, Field(gt=0)]] = Field(min_length=1)
    gold_sampling: Literal["at_most", "exact"] = "at_most"
    seeds: list[int] = Field(default_factory=lambda: list(range(10)))
    classifiers: list[ClassifierOptions] = Field(
        default_factory=default_classifiers,
        description="the options of registered classifiers (`runner.taskfile.task_schema` reads "
        "each by its `name`)",
    )
    generation: GenerationOptions = Field(default_factory=GenerationOptions)
    selections: list[str] = Field(default_factory=lambda: ["none"])
    augmentations: list[str] = Field(default_factory=lambda: ["none"])
    gates: list[str] = Field(
        default_factory=lambda: ["none"],
        description="gate sets of generated settings: none or names joined by + (language+chatter)",
    )
    selection: SelectionOptions = Field(default_factory=lambda: SelectionOptions())
    freeal: FreeALOptions = Field(default_factory=lambda: FreeALOptions())
    marks: list[str] = Field(default_factory=list)

    @field_validator(
        "plugins",
        "samples_per_label",
        "datasets",
        "languages",
        "settings",
        "models",
        "selections",
        "gates",
        mode="before",
    )
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, (str, int, float)) else value

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, value: Any) -> Any:
        return seed_list(value, "seed")

    @field_validator("classifiers", mode="before")
    @classmethod
    def _classifier_shorthand(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        return [{"name": v} if isinstance(v, str) else v for v in items]


SubSpec = TypeVar("SubSpec", bound=_Strict)
_OPTIONAL = ("selection", "augmentation", "freeal", "gates")


def _typed(kind: type[SubSpec], value: SubSpec | Mapping[str, Any] | None) -> SubSpec | None:
    """A sub-spec as given, or read from its stored dict (None stays None)."""
    if value is None or isinstance(value, kind):
        return value
    return kind.of(value)


def _typed_classifier(value: ClassifierOptions | Mapping[str, Any]) -> ClassifierOptions:
    if isinstance(value, ClassifierOptions):
        return value
    return CLASSIFIERS.get(value["name"]).of(value)


@dataclass(frozen=True)
class CaseSpec:
    """One benchmark case: everything that determines its result.

    Sub-specs are frozen pydantic models; a stored dict (a record's `spec` block, or a test's
    literal) is read into its model on construction. `to_dict` and `spec_hash` are the one
    place that turns a spec back into the dicts records keep.
    """

    dataset: str
    language: str
    setting: str
    model: str | None
    samples_per_label: int
    gold_sampling: str
    seeds: tuple[int, ...]
    classifier: ClassifierOptions
    generation: GenerationOptions | None
    selection: SelectionSpec | None = None
    augmentation: AugmentationSpec | None = None
    freeal: FreeALSpec | None = None
    gates: GateSetSpec | None = None
    source: str = field(default="", compare=False)
    marks: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        typed = {
            "classifier": _typed_classifier(self.classifier),
            "generation": _typed(GenerationOptions, self.generation),
            "selection": _typed(SelectionSpec, self.selection),
            "augmentation": _typed(AugmentationSpec, self.augmentation),
            "freeal": _typed(FreeALSpec, self.freeal),
            "gates": _typed(GateSetSpec, self.gates),
            "seeds": tuple(self.seeds),
            "marks": tuple(self.marks),
        }
        for name, value in typed.items():
            object.__setattr__(self, name, value)

    @property
    def case_id(self) -> str:
        parts = [self.dataset, self.language, self.setting]
        if self.model:
            parts.append(_slug(self.model))
        parts.append(f"n{self.samples_per_label}")
        if self.selection:
            parts.append(f"sel_{self.selection.method}")
        if self.augmentation:
            parts.append(f"aug_{self.augmentation.method}")
        if self.gates:
            parts.append("gate_" + "_".join(self.gates.names))
        if self.freeal:
            fa = self.freeal
            parts += [
                f"pool{fa.pool_size}",
                f"demos_{fa.demo_source}",
                f"clean_{fa.clean_selection}",
                f"cons_{fa.consistency}",
            ]
            if fa.calibration != "none":
                parts.append(f"cal_{fa.calibration}")
        parts.append(self.classifier_slug)
        return "-".join(parts)

    @property
    def classifier_slug(self) -> str:
        return self.classifier.slug

    @property
    def generation_seeds(self) -> list[int]:
        """The seeds of the case's generated sets; a record older than `generation.seeds`
        used its `seed`, or the case's first seed."""
        gen = self.generation
        if gen is None:
            return []
        if "seeds" in gen.model_fields_set:
            return list(gen.seeds)
        return [self.seeds[0] if gen.seed is None else gen.seed]

    def _fields(self) -> dict[str, Any]:
        """Every field, sub-specs as the dicts records keep them."""
        stored = {"classifier": self.classifier.stored()}
        for name in ("generation", *_OPTIONAL):
            value = getattr(self, name)
            stored[name] = None if value is None else value.stored()
        return {
            "dataset": self.dataset,
            "language": self.language,
            "setting": self.setting,
            "model": self.model,
            "samples_per_label": self.samples_per_label,
            "gold_sampling": self.gold_sampling,
            "seeds": list(self.seeds),
            **stored,
            "source": self.source,
            "marks": list(self.marks),
        }

    @property
    def spec_hash(self) -> str:
        """Hash of every field that changes the result (not the source file or marks)."""
        payload = {k: v for k, v in self._fields().items() if k not in ("source", "marks")}
        for optional in _OPTIONAL:
            if payload[optional] is None:  # keeps the hashes of cases written before these axes
                del payload[optional]
        if payload.get("freeal", {}).get("calibration") == "none":  # added later: same rule
            payload["freeal"] = {k: v for k, v in payload["freeal"].items() if k != "calibration"}
        if (payload["generation"] or {}).get("revision_reasons") is True:  # added later: same
            payload["generation"] = {
                k: v for k, v in payload["generation"].items() if k != "revision_reasons"
            }
        if payload["classifier"].get("class_weight") == "none":  # unweighted before the option
            payload["classifier"] = {
                k: v for k, v in payload["classifier"].items() if k != "class_weight"
            }
        canonical = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """The record's `spec` block."""
        return {**self._fields(), "case_id": self.case_id, "classifier_slug": self.classifier_slug}

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> CaseSpec:
        """The spec of a record's `spec` block (`to_dict`'s inverse; ids are recomputed)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in stored.items() if k in names})


def _slug(name: str) -> str:
    tail = name.rstrip("/").split("/")[-1].lower().removeprefix("multilingual-")
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in tail)
    return "_".join(part for part in cleaned.split("_") if part)
