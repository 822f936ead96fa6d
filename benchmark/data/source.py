"""The data source a run reads: every split and label set loaded (and validated) once.

`RunContext.data` holds one; a test passes one with in-memory splits instead of patching loaders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from benchmark.data.languages import resolve_language
from benchmark.data.loaders import Split, dataset_labels, load_split


class DataSource:
    """Splits and label sets of one data root, each loaded once per source.

    Loading goes through `benchmark.data.loaders.load_split` (its validation and fingerprints).

    Args:
        data_dir: local data root, `"hub"`, or None for `benchmark.paths.default_data_dir()`.
        splits: splits served as given (in-memory data), keyed by their dataset, language, split.
        labels: label sets served as given, by dataset.
    """

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        splits: Iterable[Split] = (),
        labels: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self._splits: dict[tuple[str, str, str], Split] = {
            (s.dataset, s.language, s.split): s for s in splits
        }
        self._labels: dict[str, tuple[str, ...]] = {
            name: tuple(values) for name, values in (labels or {}).items()
        }

    def split(self, dataset: str, language: str, split: str) -> Split:
        """One split (`train`, `dev` or `test`) of a dataset in a language (any accepted code)."""
        given = (dataset, language, split)
        if given in self._splits:
            return self._splits[given]
        key = (dataset, resolve_language(language, dataset=dataset).code, split)
        if key not in self._splits:
            self._splits[key] = load_split(dataset, language, split, data_dir=self.data_dir)
        return self._splits[key]

    def labels(self, dataset: str) -> tuple[str, ...]:
        """The label set of a dataset, in a fixed (sorted) order."""
        if dataset not in self._labels:
            self._labels[dataset] = dataset_labels(dataset, data_dir=self.data_dir)
        return self._labels[dataset]
