"""The leaderboard's opening summary (written by the project lead)."""

from __future__ import annotations

from typing import Any


def summary_markdown(records: list[dict[str, Any]]) -> str:
    """Markdown placed at the top of LEADERBOARD.md, right after the header ("" for none)."""
    return ""
