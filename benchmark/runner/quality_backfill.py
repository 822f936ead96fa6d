"""Recompute the quality block of finished generated cases from their stored samples.

The training samples of a generated case are the `kept` rows of its `generated.jsonl`, so new
quality metrics can be added to old records without calling the LLM or retraining anything.
Only the record's `quality` key changes; the rewrite is atomic.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from benchmark.case.generated_sets import generated_files, read_rows
from benchmark.case.records import (
    Record,
    as_record,
    case_dir,
    read_record,
    record_path,
    write_json_atomic,
)
from benchmark.case.spec import CaseSpec
from benchmark.context import RunContext
from benchmark.data.loaders import Example
from benchmark.quality import QUALITY_METRICS
from benchmark.settings.generated import generation_quality, mean_quality


def spec_from_record(record: Record | dict[str, Any]) -> CaseSpec:
    """The CaseSpec a record was written from."""
    return CaseSpec.from_dict(as_record(record).spec)


def kept_samples(path: Path) -> list[Example]:
    """The `kept` rows of one generated-set file (or of `<folder>/generated.jsonl`)."""
    if path.is_dir():
        path = path / "generated.jsonl"
    rows = read_rows(path)
    return [
        Example(text=r["text"], label=r["label"], uid=f"gen-{i}", split="generated")
        for i, r in enumerate(rows)
        if r["status"] == "kept"
    ]


def recompute_quality(results_dir: Path, *, data_dir=None, only_missing: bool = True) -> list[str]:
    """Recompute `quality` for every generated record (by default only where a metric is
    missing); returns the case ids that were updated."""

    ctx = RunContext(results_dir=results_dir, data_dir=data_dir)
    updated = []
    for path in sorted(results_dir.glob("*.json")):
        payload = read_record(path)
        record = Record.from_dict(payload) if payload else None
        if not record or not record.quality or not record.generation:
            continue
        if only_missing and all(m in record.quality for m in QUALITY_METRICS):
            continue
        sets = record.generation.sets or 1
        files = generated_files(case_dir(results_dir, record.case_id), sets)
        if not files:
            continue
        spec = spec_from_record(record)
        if spec.case_id != record.case_id or spec.spec_hash != record.spec_hash:
            raise ValueError(f"{path}: spec does not reproduce its case id / hash; not touched")
        summaries = record.generation.set_summaries
        quality = mean_quality(
            [
                generation_quality(spec, ctx, kept_samples(file), summary)
                for file, summary in zip(files, summaries, strict=True)
            ]
        )
        updated_record = dataclasses.replace(record, quality=quality)
        write_json_atomic(record_path(results_dir, record.case_id), updated_record.to_dict())
        updated.append(record.case_id)
    return updated
