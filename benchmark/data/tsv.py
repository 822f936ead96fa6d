"""Local TSV files: the reader (UTF-8, quoted fields, errors that name the file and line) and
`TsvFiles`, the loader of a dataset kept as one TSV per language and split::

    <data dir>/<folder>/<file code>_<split>.tsv      a header line naming at least its columns

(`massive/sw-KE_train.tsv`, `sib200/swh_Latn_dev.tsv`; the file code is the one the dataset's
registry entry gives the language, see `benchmark.data.examples.Dataset.languages`).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.data.examples import Example, Split, known_labels
from benchmark.errors import DataFileError
from benchmark.paths import DATA_DIR_ENV, DataDirError, default_data_dir


@dataclass(frozen=True)
class TsvFiles:
    """The loader of a dataset kept as TSV files (a `Dataset.loader`).

    Attributes:
        folder: the dataset's folder under the data directory.
        uid: the column holding each row's id (unique within a language).
        label: the column holding the label.
        text: the column holding the text.
        columns: every column the header must name, in the order error messages show them
            (default: uid, label, text).
        keep: only rows with these labels are examples (MASSIVE-10: 10 of the 60 intents).
        hub: `hub(dataset, language, split) -> Split`, read instead when the data directory
            is `"hub"` (None: the dataset has only local files).
    """

    folder: str
    uid: str
    label: str
    text: str = "text"
    columns: tuple[str, ...] = ()
    keep: tuple[str, ...] | None = None
    hub: Callable[..., Split] | None = None

    @property
    def header(self) -> tuple[str, ...]:
        return self.columns or (self.uid, self.label, self.text)

    def __call__(self, dataset: str, language, split: str, data_dir: Path | str | None) -> Split:
        if str(data_dir) == "hub":
            if self.hub is None:
                raise DataDirError(f"dataset {dataset!r} has no hub reader; give a data directory")
            return self.hub(dataset, language, split)
        root = Path(data_dir) if data_dir is not None else default_data_dir()
        path = self.path(root, language.code_for(dataset), split)
        rows, digest = read_tsv(path, self.header)
        _check_labels(path, dataset, rows, self.label)
        examples = tuple(
            Example(text=r[self.text], label=r[self.label], uid=r[self.uid], split=split)
            for _, r in rows
            if self.keep is None or r[self.label] in self.keep
        )
        if not examples:
            raise DataFileError(
                path,
                f"no {dataset} examples in the {split} split ({len(rows)} rows, none usable); "
                "a split must not be empty",
            )
        code = language.code
        return Split(dataset, code, split, examples, f"{dataset}/{code}/{split}:{digest}")

    def path(self, data_dir: Path, file_code: str, split: str) -> Path:
        """The file of one language (by its file code) and split.

        Raises:
            DataDirError: the data directory or the file is missing.
        """
        if not data_dir.is_dir():
            raise DataDirError(
                f"data directory {data_dir} does not exist; point at the folder holding "
                f"{self.folder}/ with --bench-data-dir or ${DATA_DIR_ENV}"
            )
        path = data_dir / self.folder / f"{file_code}_{split}.tsv"
        if not path.is_file():
            raise DataDirError(
                f"missing data file {path} (looked in data directory {data_dir}); point elsewhere "
                f"with --bench-data-dir or ${DATA_DIR_ENV}"
            )
        return path


@functools.lru_cache(maxsize=256)
def read_tsv(
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
    """Raise `DataFileError` at the first row whose label is not one the dataset knows."""
    known = known_labels(dataset)
    for line, row in rows:
        if known is not None and row[label_column] not in known:
            close = difflib.get_close_matches(row[label_column], sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            listed = (
                ", ".join(sorted(known))
                if len(known) <= 12
                else f"{len(known)} labels ({', '.join(sorted(known)[:5])}, ...)"
            )
            raise DataFileError(
                path,
                f"unknown label {row[label_column]!r}{hint}; {dataset} labels: {listed}",
                line=line,
            )
