"""A plugin outside `benchmark/` that adds two generation strategies (target-language demos with
a human description, with and without revision) as settings, each in one registration."""

from __future__ import annotations

from benchmark.settings import SETTINGS
from benchmark.settings.generated import GeneratedSetting
from benchmark.strategies import GenerationStrategy

PLAIN = GenerationStrategy("demos_human", "target", "human", False, "target demos + human desc.")
REVISED = GenerationStrategy(
    "demos_human_revision", "target", "human", True, "target demos + human desc. + revision"
)
for _strategy in (PLAIN, REVISED):
    if _strategy.name not in SETTINGS:
        SETTINGS.add(_strategy.name, GeneratedSetting(_strategy))
