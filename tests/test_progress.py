"""Live progress: counters, ETA, the heartbeat during long steps, silence without a sink."""

from __future__ import annotations

import time

import pytest

from benchmark import progress


@pytest.fixture
def lines():
    out: list[str] = []
    with progress.configured(sink=out.append):
        yield out


def test_counter_prints_start_and_end_and_throttles_between(lines):
    with (
        progress.configured(min_interval_s=3600.0),  # nothing between start and end
        progress.case("case-a"),
        progress.counter("generation round 1", 4, detail=lambda: "kept 3/20") as done,
    ):
        for i in range(4):
            done(i, None)
    body = [line.split("] ", 1)[1] for line in lines]
    assert body[0] == "started"
    assert body[1] == "generation round 1: 0/4 requests, kept 3/20"
    assert body[2].startswith("generation round 1: 4/4 requests, kept 3/20, took")
    assert len(body) == 3 and all(line.startswith("  case-a [") for line in lines)


def test_counter_eta_from_the_rate_so_far_and_a_prior_that_runs_down():
    now = [100.0]
    with progress.configured(clock=lambda: now[0]):
        counter = progress.Counter("round 2", 5, seconds_per_item=10.0)
        now[0] = 120.0
        assert counter.eta() == pytest.approx(30.0)  # prior 5 x 10 s, 20 s gone
        now[0] = 200.0
        assert counter.eta() is None  # overdue: no made-up ETA
        counter.advance(2)
        assert counter.eta() == pytest.approx(100 / 2 * 3)  # the rate so far


def test_configured_settings_are_restored_after_the_block():
    before = progress.settings()
    with progress.configured(heartbeat_s=0.5, sink=print) as inside:
        assert inside.heartbeat_s == 0.5 and inside.sink is print
        assert inside.min_interval_s == before.min_interval_s
    assert progress.settings() == before


def test_heartbeat_repeats_the_status_during_a_long_step(lines):
    tokens = iter(range(0, 1000, 7))
    with progress.configured(heartbeat_s=0.5), progress.case("case-b"):
        progress.set_token_source(lambda: next(tokens))
        with progress.counter("generation round 1", 2, max_tokens=512):
            time.sleep(2.6)
    beats = [line for line in lines if "still running" in line]
    assert len(beats) >= 2
    assert "generation round 1: 0/2 requests" in beats[-1]
    assert "of at most 512 tokens" in beats[-1]


def test_nothing_is_printed_without_a_sink_or_outside_a_case():
    printed: list[str] = []
    progress.stage("no case running")  # no error, nothing to print to
    with progress.configured(sink=printed.append):
        progress.stage("still no case")
    assert printed == []


def test_prior_rate_gives_an_eta_before_the_first_result():
    counter = progress.Counter("round 2", 10, seconds_per_item=3.0)
    assert counter.eta() == pytest.approx(30.0)
    assert progress.format_seconds(185) == "3m05s" and progress.format_seconds(42) == "42s"


def test_a_burst_of_results_prints_one_line(lines):
    with (
        progress.configured(min_interval_s=0.0),
        progress.case("case-c"),
        progress.counter("generation round 1", 7) as done,
    ):
        for i in range(7):  # a batch backend reports all its requests at once
            done(i, None)
    body = [line.split("] ", 1)[1] for line in lines]
    assert body == [
        "started",
        "generation round 1: 0/7 requests",
        next(b for b in body if b.startswith("generation round 1: 7/7 requests, took")),
    ]


def test_partial_counts_are_printed_by_the_heartbeat(lines):
    with (
        progress.configured(min_interval_s=0.0),
        progress.case("case-d"),
        progress.counter("generation round 1", 4) as done,
    ):
        done(0, None)
        time.sleep(1.5)
        assert any("generation round 1: 1/4 requests" in line for line in lines)


def test_a_resumed_step_gets_its_eta_from_recent_items_not_the_cached_burst():
    """A rerun serves its first 300 items from the response cache at once; the remaining ones
    take 5 s each. Once a window of real items has passed, the ETA follows their rate."""
    now = [0.0]
    with progress.configured(clock=lambda: now[0]):
        counter = progress.Counter("revision checks", 400)
        now[0] = 1.0
        counter.advance(300)
        for _ in range(40):  # 200 s of uncached items
            now[0] += 5.0
            counter.advance()
        assert counter.eta() == pytest.approx(
            60 * 5.0
        )  # the rate since the start would say 60 x 0.6 s
