"""What every stage is handed: the run's folders and the services its cases use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.data.source import DataSource
from benchmark.encoders.embedder import Embedder, load_embedder
from benchmark.llm.factory import BackendFactory


@dataclass(frozen=True)
class RunContext:
    """Where a run reads data and writes results, and the services its cases use.

    `data` (default: a `DataSource` of `data_dir`) loads each split once, `backends` makes the
    LLM backends (every call through the response cache), `embedder` loads an embedder by name.
    """

    results_dir: Path
    data_dir: Path | str | None = None
    overwrite: bool = False
    figures: bool = True
    data: DataSource = None  # type: ignore[assignment]  # set from data_dir when not given
    backends: BackendFactory = field(default_factory=BackendFactory)
    embedder: Callable[[str], Embedder] = load_embedder

    def __post_init__(self) -> None:
        if self.data is None:
            object.__setattr__(self, "data", DataSource(self.data_dir))
