"""The settings a task file can name: the gold baseline, one generated setting per generation
strategy, and FreeAL. A new setting is one module that registers an object following
`Setting` (see `benchmark.settings.base`):

    from benchmark.settings import SETTINGS

    @SETTINGS.register("my-setting")
    class MySetting: ...   # or SETTINGS.add("my-setting", MySetting())
"""

from __future__ import annotations

from benchmark.registry import Registry
from benchmark.settings.base import CaseBase, Setting, TrainingData
from benchmark.settings.freeal import FreeALSetting
from benchmark.settings.generated import GeneratedSetting
from benchmark.settings.gold import GoldSetting
from benchmark.strategies import STRATEGIES

SETTINGS: Registry[Setting] = Registry("setting")
SETTINGS.add("gold", GoldSetting())
for _strategy in STRATEGIES.values():
    SETTINGS.add(_strategy.name, GeneratedSetting(_strategy))
SETTINGS.add("freeal", FreeALSetting())


def setting_of(name: str) -> Setting:
    """The registered setting called `name` (UnknownNameError with close matches if none)."""
    return SETTINGS.get(name)


__all__ = ["SETTINGS", "CaseBase", "Setting", "TrainingData", "setting_of"]
