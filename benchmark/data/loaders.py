"""Dataset loaders (local TSV layout or the Hugging Face hub) and seeded per-label sampling.

Local layout (see `shared/data/SOURCES.md`)::

    massive/<locale>_<split>.tsv   id, partition, intent, text
    sib200/<code>_<split>.tsv      index_id, category, text

The test split is marked on every example; `sample_per_label` and the demo
samplers refuse test examples, so test data cannot reach training or prompts.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from benchmark.data import hub
from benchmark.data.examples import (  # noqa: F401  (re-exported: the data API)
    DATASETS,
    MASSIVE10_INTENTS,
    SENTIMENT_LABELS,
    SIB200_TOPICS,
    SPLITS,
    TSV_COLUMNS,
    Dataset,
    Example,
    LeakageError,
    Split,
    known_labels,
    massive_intents,
)
from benchmark.data.languages import Language, resolve_language
from benchmark.errors import DataFileError
from benchmark.paths import DATA_DIR_ENV, DataDirError, default_data_dir


def dataset_labels(dataset: str, *, data_dir: Path | None = None) -> tuple[str, ...]:
    """The label set of a dataset, in a fixed (sorted) order.

    Raises:
        UnknownNameError: not a registered dataset (with close matches).
    """
    labels = DATASETS.get(dataset).labels
    if labels is not None:
        return labels
    return tuple(load_split(dataset, "en", "train", data_dir=data_dir).label_counts)


def _local_file(dataset: str, language: Language, split: str, data_dir: Path) -> Path:
    if not data_dir.is_dir():
        raise DataDirError(
            f"data directory {data_dir} does not exist; point at the folder holding "
            f"massive/ and sib200/ with --bench-data-dir or ${DATA_DIR_ENV}"
        )
    if dataset.startswith("massive"):
        path = data_dir / "massive" / f"{language.massive}_{split}.tsv"
    elif dataset == "sib200":
        path = data_dir / "sib200" / f"{language.sib200}_{split}.tsv"
    else:
        raise DataDirError(
            f"dataset {dataset!r} has no local files (it is loaded from the Hugging Face hub)"
        )
    if not path.is_file():
        raise DataDirError(
            f"missing data file {path} (looked in data directory {data_dir}); point elsewhere "
            f"with --bench-data-dir or ${DATA_DIR_ENV}"
        )
    return path


@functools.lru_cache(maxsize=256)
def _read_tsv(
    path: Path, columns: tuple[str, ...]
) -> tuple[tuple[tuple[int, dict[str, str]], ...], str]:
    """Rows (with their line numbers) of a complete, well-formed TSV, and its digest.

    Raises:
        DataFileError: not UTF-8, empty, cut off mid-line, a missing column, an incomplete
            row, an empty field, or a quote that does not close on its own line (a field
            spanning lines would swallow the rows after it); the message names the file and
            the line.
    """
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    header = "\t".join(columns)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataFileError(
            path, f"not UTF-8 (byte {err.start}); data files are UTF-8 TSV", line=line
        ) from None
    if not text.strip():
        raise DataFileError(path, f"empty file; expected a header line {header!r} and rows")
    if not text.endswith("\n"):
        raise DataFileError(
            path,
            "the file ends in the middle of a line (truncated copy?); data files end with a "
            "newline: restore the file from its source",
            line=text.count("\n") + 1,
        )
    lines = text.split("\n")[:-1]  # "\n" only: U+2028 and friends are text, not line breaks
    names = _tsv_fields(path, lines[0], 1)
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataFileError(
            path,
            f"header {names!r} lacks column(s) {', '.join(missing)}; expected {header!r}",
            line=1,
        )
    rows = []
    for line, content in enumerate(lines[1:], 2):
        fields = _tsv_fields(path, content, line)
        if len(fields) != len(names):
            raise DataFileError(
                path,
                f"{len(fields)} fields, the header has {len(names)} (incomplete row?)",
                line=line,
            )
        row = dict(zip(names, fields, strict=True))
        empty = [c for c in columns if not row[c].strip()]
        if empty:
            raise DataFileError(path, f"empty field(s) {', '.join(empty)}", line=line)
        rows.append((line, row))
    return tuple(rows), digest


def _tsv_fields(path: Path, content: str, line: int) -> list[str]:
    """The tab-separated fields of one line of a quoted TSV, as `csv` writes it: a field may be
    quoted (`"..."`, a quote inside doubled); an empty line has no fields.

    Raises:
        DataFileError: a quote that opens a field is not closed on the same line (the field
            would swallow the rows after it), a quoted field holds a tab, or text follows a
            closing quote.
    """
    content = content.removesuffix("\r")
    if not content:
        return []
    fields: list[str] = []
    start = 0
    while True:
        if content.startswith('"', start):
            value, end = _quoted_field(path, content, start, line, len(fields) + 1)
        else:
            end = content.find("\t", start)
            end = len(content) if end == -1 else end
            value = content[start:end]
        fields.append(value)
        if end >= len(content):
            return fields
        start = end + 1


def _quoted_field(path: Path, content: str, start: int, line: int, number: int) -> tuple[str, int]:
    """The value of the quoted field opening at `start`, and the index after its closing quote."""
    pieces, i = [], start + 1
    while True:
        close = content.find('"', i)
        if close == -1:
            shown = content[start : start + 40] + ("..." if len(content) - start > 40 else "")
            raise DataFileError(
                path,
                f"the quote that opens field {number} ({shown!r}) is not closed on this line; "
                'a quoted field must end on the line it starts on, a quote inside it doubled ("")',
                line=line,
            )
        pieces.append(content[i:close])
        if not content.startswith('"', close + 1):
            break
        pieces.append('"')
        i = close + 2
    value, end = "".join(pieces), close + 1
    if "\t" in value:
        raise DataFileError(
            path, f"quoted field {number} holds a tab; fields are separated by tabs", line=line
        )
    if end < len(content) and content[end] != "\t":
        raise DataFileError(
            path,
            f"text after the closing quote of field {number}; double a quote inside a quoted "
            'field ("")',
            line=line,
        )
    return value, end


def _check_labels(path: Path, dataset: str, rows, label_column: str) -> None:
    known = known_labels(dataset)
    for line, row in rows:
        if known is not None and row[label_column] not in known:
            close = difflib.get_close_matches(row[label_column], sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            listed = (
                ", ".join(sorted(known))
                if len(known) <= 12
                else f"{len(known)} intents (benchmark/resources/label_descriptions.yaml)"
            )
            raise DataFileError(
                path,
                f"unknown label {row[label_column]!r}{hint}; {dataset} labels: {listed}",
                line=line,
            )


def load_split(
    dataset: str, language: str, split: str, *, data_dir: Path | str | None = None
) -> Split:
    """Load one split of a dataset for one language.

    Args:
        dataset: one of `DATASETS`.
        language: any accepted language code (`sw`, `sw-KE`, `swh_Latn`).
        split: `train`, `dev` or `test`.
        data_dir: local data root; `None` uses `benchmark.paths.default_data_dir()`;
            the string `"hub"` reads the Hugging Face hub instead (see `benchmark.data.hub`).

    Returns:
        The split, with a fingerprint of the file it was read from.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    entry = DATASETS.get(dataset)
    return entry.load(dataset, resolve_language(language, dataset=dataset), split, data_dir)


def load_sentiment(dataset: str, lang: Language, split: str, data_dir) -> Split:
    """The sentiment sets' loader: always from the Hugging Face hub."""
    return hub.load_sentiment_split(lang, split)


def load_local_or_hub(
    dataset: str, lang: Language, split: str, data_dir: Path | str | None
) -> Split:
    """MASSIVE and SIB-200: local TSV files, or the hub when `data_dir` is `"hub"`."""
    if str(data_dir) == "hub":
        if dataset == "sib200":
            return hub.load_sib200_split(lang, split)
        intents = set(MASSIVE10_INTENTS) if dataset == "massive10" else None
        return hub.load_massive_split(lang, split, intents=intents)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    path = _local_file(dataset, lang, split, root)
    family = "massive" if dataset.startswith("massive") else dataset
    rows, digest = _read_tsv(path, TSV_COLUMNS[family])
    uid_key, label_key = TSV_COLUMNS[family][0], TSV_COLUMNS[family][-2]
    _check_labels(path, dataset, rows, label_key)
    keep = set(MASSIVE10_INTENTS) if dataset == "massive10" else None
    examples = tuple(
        Example(text=r["text"], label=r[label_key], uid=r[uid_key], split=split)
        for _, r in rows
        if keep is None or r[label_key] in keep
    )
    if not examples:
        raise DataFileError(
            path,
            f"no {dataset} examples in the {split} split ({len(rows)} rows, none usable); "
            "a split must not be empty",
        )
    return Split(dataset, lang.code, split, examples, f"{dataset}/{lang.code}/{split}:{digest}")


def refuse_test_examples(examples: Iterable[Example], *, purpose: str) -> None:
    """Raise `LeakageError` if any example comes from the test split."""
    leaked = [e.uid for e in examples if e.split == "test"]
    if leaked:
        raise LeakageError(f"{len(leaked)} test-split examples reached {purpose}: {leaked[:5]}")


def assert_disjoint_from_test(training: Sequence[Example], test: Split) -> None:
    """Raise `LeakageError` if a training example shares a uid with the test split."""
    test_ids = {e.uid for e in test.examples}
    shared = [e.uid for e in training if e.split != "generated" and e.uid in test_ids]
    if shared:
        raise LeakageError(f"{len(shared)} training examples are test examples: {shared[:5]}")


def sample_per_label(
    split: Split, n: int, *, seed: int, exact: bool = False, labels: Sequence[str] | None = None
) -> list[Example]:
    """Draw up to `n` examples per label (all of a label when it has fewer), seeded.

    Args:
        split: a train or dev split (never test).
        n: examples per label.
        seed: sampling seed; the same seed always gives the same sample.
        exact: raise `ValueError` when a label has fewer than `n` examples.
        labels: restrict to these labels (default: all labels of the split).

    Returns:
        Examples grouped by label in sorted label order, shuffled within a label.
    """
    refuse_test_examples(split.examples, purpose="a training or demo sample")
    groups = split.by_label()
    chosen: list[Example] = []
    for label in sorted(labels if labels is not None else groups):
        pool = sorted(groups.get(label, []), key=lambda e: e.uid)
        if not pool or (exact and len(pool) < n):
            raise ValueError(
                f"{split.dataset}/{split.language}/{split.split}: label {label!r} has "
                f"{len(pool)} examples, {n} requested"
            )
        rng = random.Random(f"{seed}:{label}")
        chosen.extend(rng.sample(pool, min(n, len(pool))))
    return chosen


def sample_with_counts(split: Split, counts: dict[str, int], *, seed: int) -> list[Example]:
    """Draw exactly `counts[label]` examples per label (fewer where the label has fewer), seeded.

    The matched gold control of a generated case: gold data with the case's per-label counts.

    Args:
        split: a train split (never test).
        counts: label -> examples wanted.
        seed: sampling seed.

    Returns:
        Examples in sorted label order; labels with count 0 are absent.
    """
    refuse_test_examples(split.examples, purpose="a matched gold sample")
    groups = split.by_label()
    chosen: list[Example] = []
    for label in sorted(counts):
        pool = sorted(groups.get(label, []), key=lambda e: e.uid)
        rng = random.Random(f"{seed}:{label}:matched")
        chosen.extend(rng.sample(pool, min(counts[label], len(pool))))
    return chosen
