"""Live progress of a running case: one line per step, throttled counters and a heartbeat.

The pytest plugin sets a sink (the terminal); without one nothing is printed, so library
code can report unconditionally. While a case runs, a heartbeat thread repeats the latest
status at least every `HEARTBEAT_S` seconds, so a long batch (a model decoding for
minutes) never looks hung. `configured(...)` sets the sink, clock and intervals for a block.

    with progress.case("sib200-sw-gold-n100-logreg_e5_small"):
        progress.stage("seed 1/10: training")
        with progress.counter("generation round 1", total=40, detail=lambda: "...") as done:
            backend.generate(requests, on_result=done)
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

HEARTBEAT_S = 8.0  # a line at least every 10 s while a case runs (checked every second;
# 9 s let a loaded machine slip to 11-12 s between lines)
MIN_INTERVAL_S = 5.0  # counters print at most this often (first and last update always print)
RATE_WINDOW_S = 120.0  # the ETA's rate is measured over at least this much recent time

Sink = Callable[[str], None]
_lock = threading.RLock()


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where progress lines go (None: nowhere), the clock, and how often lines are printed."""

    sink: Sink | None = None
    clock: Callable[[], float] = time.monotonic
    heartbeat_s: float = HEARTBEAT_S
    min_interval_s: float = MIN_INTERVAL_S


_settings = Settings()


class _Status:
    case_id: str | None = None
    started = 0.0
    text = ""  # the latest real update (the heartbeat repeats it)
    last_update = 0.0
    last_emit = 0.0
    tokens: Callable[[], int | None] | None = None
    budget: tuple[int, int] | None = None  # (tokens decoded when the step began, at most more)
    counter: Counter | None = None  # the step being counted (the heartbeat re-renders it)
    waiting: dict[int, tuple[str, float]] = {}  # requests without a reply: id -> (what, since)


_status = _Status()


def set_sink(sink: Sink | None) -> None:
    """Where progress lines go (None: nowhere)."""
    global _settings
    _settings = dataclasses.replace(_settings, sink=sink)


def settings() -> Settings:
    """The progress settings in force."""
    return _settings


@contextmanager
def configured(**changes: object) -> Iterator[Settings]:
    """Progress with other `Settings` fields (sink, clock, heartbeat_s, min_interval_s) inside
    the block; the previous settings are restored after it."""
    global _settings
    previous = _settings
    _settings = dataclasses.replace(previous, **changes)  # type: ignore[arg-type]
    try:
        yield _settings
    finally:
        _settings = previous


def format_seconds(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _emit(text: str, *, heartbeat: bool = False) -> None:
    with _lock:
        now = _settings.clock()
        if not heartbeat:
            _status.text, _status.last_update = text, now
        _status.last_emit = now
        sink = _settings.sink
        if sink is None or _status.case_id is None:
            return
        sink(f"  {_status.case_id} [{format_seconds(now - _status.started)}] {text}")


_notices: list[str] = []  # this process's notices, in order (see `notice`)


def notice(text: str) -> None:
    """Something a user must hear of even without -v (e.g. a damaged file moved aside):
    printed at once while a case runs, and kept for the end-of-session summary (`notices`)."""
    with _lock:
        _notices.append(text)
        sink = _settings.sink
        if sink is not None and _status.case_id is not None:
            sink(f"  {_status.case_id} NOTE: {text}")


def notices() -> list[str]:
    """Every notice of this process so far."""
    with _lock:
        return list(_notices)


def stage(text: str) -> None:
    """Announce a step of the running case (printed at once)."""
    _emit(text)


def set_token_source(source: Callable[[], int | None] | None) -> None:
    """A counter of tokens decoded so far (shown by the heartbeat during long batches)."""
    _status.tokens = source


def _heartbeat(stop: threading.Event) -> None:
    last_tokens: tuple[float, int] | None = None
    while not stop.wait(1.0):
        with _lock:
            if _status.counter is not None:
                _status.counter.print_if_due()
            now = _settings.clock()
            if now - _status.last_emit < _settings.heartbeat_s or not _status.text:
                continue
            extra = f"still running, last update {format_seconds(now - _status.last_update)} ago"
            text = _status.counter.line() if _status.counter is not None else _status.text
            tokens = _status.tokens() if _status.tokens and _status.budget else None
            if tokens is not None:
                rate = ""
                if last_tokens and now > last_tokens[0] and tokens >= last_tokens[1]:
                    rate = f", {(tokens - last_tokens[1]) / (now - last_tokens[0]):.1f} tokens/s"
                last_tokens = (now, tokens)
                done, most = tokens, None
                if _status.budget is not None:
                    done, most = tokens - _status.budget[0], _status.budget[1]
                if done:
                    extra += f", {done}{f' of at most {most}' if most else ''} tokens{rate}"
                else:
                    extra += ", no token decoded yet (loading weights or prefill)"
            if _status.waiting:
                what, since = min(_status.waiting.values(), key=lambda w: w[1])
                extra += f", waiting for {what}: no reply for {format_seconds(now - since)}"
            _emit(f"{text} · {extra}", heartbeat=True)


@contextmanager
def waiting_for(what: str) -> Iterator[None]:
    """A request in flight: while no reply came, the heartbeat names the oldest one
    (`waiting for <url>: no reply for 9s`), so a silent server never looks like a slow step."""
    token = object()
    with _lock:
        _status.waiting[id(token)] = (what, _settings.clock())
    try:
        yield
    finally:
        with _lock:
            _status.waiting.pop(id(token), None)


@contextmanager
def case(case_id: str) -> Iterator[None]:
    """Progress context of one case: prefixes lines with its id, runs the heartbeat."""
    stop = threading.Event()
    with _lock:
        _status.case_id, _status.started, _status.text = case_id, _settings.clock(), ""
        _status.last_emit = _status.last_update = _settings.clock()
    _emit("started")
    thread = threading.Thread(target=_heartbeat, args=(stop,), daemon=True, name="bench-progress")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        with _lock:
            _status.case_id, _status.text, _status.tokens = None, "", None
            _status.budget = _status.counter = None


class Counter:
    """Counts finished items of one step; usable as an `on_result(index, result)` callback.

    Prints `what: done/total, <detail>, ETA` at most every `MIN_INTERVAL_S` while a case runs
    (through the heartbeat thread; the start is announced by `counter`), and when the last
    item finishes.
    """

    def __init__(
        self,
        what: str,
        total: int,
        *,
        detail: Callable[[], str] | None = None,
        unit: str = "requests",
        seconds_per_item: float | None = None,
    ):
        self.what, self.total, self.detail, self.unit = what, total, detail, unit
        self.done = 0
        self.started = _settings.clock()
        self.prior = seconds_per_item
        self.dirty = False
        # (time, done) at each advance; the first is the latest one at least RATE_WINDOW_S old
        self.samples: deque[tuple[float, int]] = deque([(self.started, 0)])

    def __call__(self, *_args) -> None:
        self.advance(1)

    def advance(self, n: int = 1) -> None:
        """Count `n` finished items; the last prints at once, the others are printed by the
        heartbeat thread within a second when due (a batch that finishes all its requests at
        once thus prints one line, not one per request)."""
        self.done += n
        now = _settings.clock()
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW_S:
            self.samples.popleft()
        if self.done >= self.total:
            self.dirty = False
            _emit(self.line())
        else:
            self.dirty = True

    def print_if_due(self) -> None:
        """Print the count if it changed and `MIN_INTERVAL_S` passed since the last line."""
        if self.dirty and _settings.clock() - _status.last_emit >= _settings.min_interval_s:
            self.dirty = False
            _emit(self.line())

    def eta(self) -> float | None:
        """Seconds left at the rate of the last `RATE_WINDOW_S` (or the prior rate before the
        first item). A window, not the rate since the start: a resumed step serves its first
        items from the response cache at once, and their rate would promise far too soon."""
        left = self.total - self.done
        if left <= 0:
            return 0.0
        now = _settings.clock()
        since, done_then = self.samples[0]
        if self.done > done_then and now > since:
            return (now - since) / (self.done - done_then) * left
        if self.prior is None:
            return None
        eta = self.prior * left - (now - self.started)
        return eta if eta >= 1.0 else None  # None once overdue

    def line(self) -> str:
        parts = [f"{self.what}: {self.done}/{self.total} {self.unit}"]
        if self.detail is not None:
            parts.append(self.detail())
        eta = self.eta()
        if eta:
            parts.append(f"ETA {format_seconds(eta)}")
        elif self.done >= self.total:
            parts.append(f"took {format_seconds(_settings.clock() - self.started)}")
        return ", ".join(p for p in parts if p)


@contextmanager
def counter(what: str, total: int, *, max_tokens: int | None = None, **kwargs) -> Iterator[Counter]:
    """A `Counter` whose start is announced (with the prior ETA when one is given).

    `max_tokens`: the most tokens the step can decode; the heartbeat then shows how many of
    them are done while a batch runs."""
    c = Counter(what, total, **kwargs)
    if max_tokens and _status.tokens is not None:
        _status.budget = ((_status.tokens() or 0), max_tokens)
    _status.counter = c
    _emit(c.line())
    try:
        yield c
    finally:
        _status.budget = _status.counter = None
