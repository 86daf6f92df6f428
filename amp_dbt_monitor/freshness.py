"""Freshness: how far a model's data is behind the chain head, in blocks and in block time.

Both ends come from Amp: the block a model's data is complete through, and the chain head, each
with the timestamp Amp reports for that block (Flight `app_metadata` ranges). Block time, not the
wall clock: a model is stale when the head's block timestamp is more than its
`alert_threshold_minutes` past the timestamp of the model's latest block. When the monitor last
wrote a row, or when a job last ran, never enters the judgement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FRESH, STALE, ERROR, UNKNOWN = "fresh", "stale", "error", "unknown"
# A bounded dataset whose job is done (COMPLETED at its end block): it never follows the head, so
# it is not stale; a dataset model dbt registered but did not deploy (no job): nothing to judge.
COMPLETE, NOT_DEPLOYED = "complete", "not deployed"
STATUSES = (FRESH, STALE, ERROR, UNKNOWN, COMPLETE, NOT_DEPLOYED)
# What `alerts` (and its exit code) report as problems.
PROBLEMS = frozenset({STALE, ERROR})


@dataclass(frozen=True)
class BlockMark:
    """One block of one network and its timestamp (Unix seconds, as Amp reports it; None when
    Amp did not say)."""

    network: str
    block: int
    timestamp: int | None = None


@dataclass(frozen=True)
class Freshness:
    """The judgement on one model, with the numbers it rests on."""

    status: str
    reason: str
    network: str | None = None
    latest: BlockMark | None = None
    head: BlockMark | None = None
    lag_blocks: int | None = None
    lag_seconds: int | None = None


def assess(
    threshold_minutes: float,
    latest: list[BlockMark],
    heads: dict[str, BlockMark],
    failure: str | None = None,
) -> Freshness:
    """Judge a model whose data is complete through `latest` (one mark per network it reads)
    against the chain `heads` (per network). `failure` (a failed job or dbt run, an Amp error)
    makes it an error whatever the blocks say."""
    if failure:
        worst = _worst(latest, heads)
        return Freshness(ERROR, failure, *worst) if worst else Freshness(ERROR, failure)
    if not latest:
        return Freshness(STALE, "no data yet: Amp reports no synced blocks for it")
    worst = _worst(latest, heads)
    if worst is None:
        networks = ", ".join(sorted({m.network for m in latest}))
        mark = max(latest, key=lambda m: m.block)
        return Freshness(
            UNKNOWN,
            f"the chain head of {networks} is unknown (no chain table it reads answered)",
            mark.network,
            mark,
        )
    network, mark, head, lag_blocks, lag_seconds = worst
    behind = f"{lag_blocks:,} blocks behind the head of {network} (block {head.block:,})"
    if lag_seconds is None:
        return Freshness(
            UNKNOWN,
            f"{behind}; Amp reported no block timestamp, so the lag in time is unknown",
            *worst,
        )
    threshold = threshold_minutes * 60
    if lag_seconds > threshold:
        reason = (
            f"{format_duration(lag_seconds)} of block time ({behind}) exceeds the "
            f"{format_minutes(threshold_minutes)} threshold"
        )
        return Freshness(STALE, reason, *worst)
    return Freshness(FRESH, f"{format_duration(lag_seconds)} of block time, {behind}", *worst)


def _worst(
    latest: list[BlockMark], heads: dict[str, BlockMark]
) -> tuple[str, BlockMark, BlockMark, int, int | None] | None:
    """(network, mark, head, lag in blocks, lag in seconds) of the network furthest behind."""
    candidates = []
    for mark in latest:
        head = heads.get(mark.network)
        if head is None:
            continue
        lag_blocks = max(head.block - mark.block, 0)
        lag_seconds = None
        if head.timestamp is not None and mark.timestamp is not None:
            lag_seconds = max(head.timestamp - mark.timestamp, 0)
        candidates.append((mark.network, mark, head, lag_blocks, lag_seconds))
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[4] is not None, c[4] or 0, c[3]))


def progress_percent(
    start: int | None, current: int | None, target: int | None, completed: bool = False
) -> float | None:
    """How far a job is from `start` to `target` (its end block, or the chain head for a
    continuous job), 0-100; None when a block is unknown."""
    if completed:
        return 100.0
    if start is None or current is None or target is None:
        return None
    if target <= start:
        return 100.0 if current >= target else 0.0
    if current >= target:
        return 100.0
    # rounded down: a job short of its target never shows 100%
    return math.floor(max((current - start) / (target - start), 0.0) * 1000) / 10


def format_duration(seconds: float | None) -> str:
    """`45s`, `12m 5s`, `3h 4m`, `2d 5h`: the two largest units."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])


def format_minutes(minutes: float) -> str:
    return format_duration(minutes * 60)
