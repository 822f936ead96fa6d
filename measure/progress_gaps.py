"""The largest gap between consecutive progress lines of each case in a run's log, from their
`[elapsed]` stamps, and how many third-party progress-bar lines the log holds.

    lowres-bench run --out /tmp/smoke > smoke.log 2>&1; python measure/progress_gaps.py smoke.log
"""

from __future__ import annotations

import re
import sys

STAMP = re.compile(r"\s*(\S+) \[((?:\d+m)?\d+s)\]")
BAR = re.compile(r"\d+%\||it/s\]")


def seconds(stamp: str) -> int:
    minutes, _, rest = stamp.rpartition("m")
    return int(minutes or 0) * 60 + int(rest.rstrip("s"))


def main(path: str) -> None:
    stamps: dict[str, list[int]] = {}
    bars = 0
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            bars += bool(BAR.search(line))
            if match := STAMP.match(line):
                stamps.setdefault(match.group(1), []).append(seconds(match.group(2)))
    for case, times in stamps.items():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        print(
            f"{case}: {len(times)} lines over {times[-1]} s, largest gap {max(gaps, default=0)} s"
        )
    print(f"third-party progress-bar lines: {bars}")


if __name__ == "__main__":
    main(sys.argv[1])
