"""Freshness judged from Amp's block numbers and block timestamps, never the wall clock."""

from __future__ import annotations

import pytest

from amp_dbt_monitor.freshness import (
    ERROR,
    FRESH,
    STALE,
    UNKNOWN,
    BlockMark,
    assess,
    format_duration,
    progress_percent,
)
from amp_dbt_monitor.views import progress_text

HEAD = {"mainnet": BlockMark("mainnet", 2_000, 1_000_000)}


def test_fresh_within_the_threshold_in_block_time():
    verdict = assess(30, [BlockMark("mainnet", 1_990, 1_000_000 - 120)], HEAD)
    assert verdict.status == FRESH
    assert (verdict.lag_blocks, verdict.lag_seconds) == (10, 120)
    assert verdict.head == HEAD["mainnet"] and verdict.network == "mainnet"
    assert "10 blocks behind the head of mainnet (block 2,000)" in verdict.reason


def test_stale_past_the_threshold_names_lag_and_threshold():
    verdict = assess(5, [BlockMark("mainnet", 1_900, 1_000_000 - 1_200)], HEAD)
    assert verdict.status == STALE
    assert (verdict.lag_blocks, verdict.lag_seconds) == (100, 1_200)
    assert verdict.reason == (
        "20m of block time (100 blocks behind the head of mainnet (block 2,000)) exceeds the "
        "5m threshold"
    )


def test_the_threshold_itself_is_still_fresh():
    assert assess(2, [BlockMark("mainnet", 1_990, 1_000_000 - 120)], HEAD).status == FRESH


def test_block_time_not_block_count_decides():
    # many blocks behind but little block time (fast chain): fresh; few blocks, much time: stale
    fast = assess(1, [BlockMark("mainnet", 1_000, 1_000_000 - 30)], HEAD)
    slow = assess(1, [BlockMark("mainnet", 1_999, 1_000_000 - 3_600)], HEAD)
    assert (fast.status, fast.lag_blocks) == (FRESH, 1_000)
    assert (slow.status, slow.lag_blocks) == (STALE, 1)


def test_no_data_is_stale():
    verdict = assess(30, [], HEAD)
    assert verdict.status == STALE and verdict.reason.startswith("no data yet")


def test_failure_is_an_error_but_keeps_the_numbers():
    verdict = assess(30, [BlockMark("mainnet", 1_990, 999_990)], HEAD, "job 7 ERROR: boom")
    assert verdict.status == ERROR and verdict.reason == "job 7 ERROR: boom"
    assert verdict.lag_blocks == 10


def test_unknown_head_and_missing_timestamps_are_unknown_not_fresh():
    no_head = assess(30, [BlockMark("base", 10, 100)], HEAD)
    assert no_head.status == UNKNOWN and "chain head of base is unknown" in no_head.reason
    no_time = assess(30, [BlockMark("mainnet", 1_990, None)], HEAD)
    assert no_time.status == UNKNOWN and no_time.lag_blocks == 10
    assert "no block timestamp" in no_time.reason


def test_the_network_furthest_behind_counts():
    heads = {**HEAD, "base": BlockMark("base", 500, 1_000_000)}
    marks = [BlockMark("mainnet", 2_000, 1_000_000), BlockMark("base", 400, 1_000_000 - 4_000)]
    verdict = assess(30, marks, heads)
    assert (verdict.status, verdict.network, verdict.lag_blocks) == (STALE, "base", 100)


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "0s"), (45, "45s"), (60, "1m"), (725, "12m 5s"), (3_660, "1h 1m"), (190_000, "2d 4h")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_progress_percent():
    assert progress_percent(100, 150, 200) == 50.0
    assert progress_percent(100, 250, 200) == 100.0
    assert progress_percent(100, None, 200) is None
    assert progress_percent(None, None, None, completed=True) == 100.0
    # a stopped job 12 blocks short of a 20,000-block target is not done: never 100%
    assert progress_percent(0, 19_988, 20_000) == 99.9
    assert progress_percent(0, 19_999, 20_000) == 99.9
    assert progress_percent(0, 20_000, 20_000) == 100.0


def test_progress_text_shows_100_only_when_done():
    assert progress_text(99.99) == "99.9%"
    assert progress_text(50.0) == "50.0%"
    assert progress_text(100.0) == "100%"
    assert progress_text(None) is None
