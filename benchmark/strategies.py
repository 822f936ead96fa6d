"""The generation strategies: how the LLM is prompted in each generated setting (registered
as settings by `benchmark.settings`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DemoSource = Literal["none", "english", "target", "translated"]
DescriptionSource = Literal["none", "summarised", "human"]


@dataclass(frozen=True)
class GenerationStrategy:
    """How the LLM is prompted for one setting.

    Attributes:
        name: the setting name used in YAML and case ids.
        demos: where the in-prompt demos come from (gold train split; English = en split;
            translated = English demos translated into the target language by the LLM).
        description: which label description goes into the prompt.
        revision: run the keep/reject self-revision pass after generation.
    """

    name: str
    demos: DemoSource
    description: DescriptionSource
    revision: bool
    summary: str

    def shows_human_descriptions(self, revision_description: str) -> bool:
        """Whether its generation or revision prompts show the human-written label descriptions
        (`revision_description`: the task file's `generation.revision_description`)."""
        return self.description == "human" or (self.revision and revision_description == "human")


STRATEGIES: dict[str, GenerationStrategy] = {
    s.name: s
    for s in (
        GenerationStrategy("summarised_label", "none", "summarised", False, "SL only"),
        GenerationStrategy(
            "english_demos_sl", "english", "summarised", False, "English demos + SL"
        ),
        GenerationStrategy(
            "english_demos_revision", "english", "none", True, "English demos + revision"
        ),
        GenerationStrategy("target_demos", "target", "none", False, "target-language demos"),
        GenerationStrategy("target_demos_sl", "target", "summarised", False, "target demos + SL"),
        GenerationStrategy(
            "target_demos_revision", "target", "none", True, "target demos + revision"
        ),
        GenerationStrategy(
            "target_demos_sl_revision", "target", "summarised", True, "target demos + SL + revision"
        ),
        GenerationStrategy("human_description", "none", "human", False, "human description only"),
        GenerationStrategy(
            "translated_demos", "translated", "none", False, "translated English demos"
        ),
    )
}
