"""What every item of the bench is made of: a row of the results table, the turns that the
two sides of a measurement take, the log, and the batch a POST of 1000 sends."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from leads_contract.values import MAX_IDS_PER_DELETE, MAX_LEADS_PER_ADD

BATCH = MAX_LEADS_PER_ADD
DELETE_IDS = MAX_IDS_PER_DELETE


@dataclass
class Row:
    """One line of the results table."""

    item: str
    what: str
    service: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    target: float | None = None
    next_goal: float | None = None
    # The old floor of the same work, measured in the same turns (POST rows only).
    old_baseline: list[float] = field(default_factory=list)
    unit: str = "ms"

    @property
    def ratio(self) -> float:
        return statistics.median(self.service) / statistics.median(self.baseline)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target

    @property
    def ratio_to_old(self) -> float | None:
        if not self.old_baseline:
            return None
        return statistics.median(self.service) / statistics.median(self.old_baseline)

    @property
    def added(self) -> float:
        """What the service adds to the baseline: the median over the pairs of runs. Less
        sensitive to the machine's load than the ratio, whose baseline speeds up on a
        quiet machine far more than the service's Python does."""
        return statistics.median(s - b for s, b in zip(self.service, self.baseline, strict=True))

    def as_dict(self) -> dict:
        return {
            "item": self.item,
            "what": self.what,
            "service_median": statistics.median(self.service),
            "baseline_median": statistics.median(self.baseline),
            "ratio": self.ratio,
            "added": self.added,
            "target": self.target,
            "next_goal": self.next_goal,
            "met": self.met,
            "old_baseline_median": (
                statistics.median(self.old_baseline) if self.old_baseline else None
            ),
            "ratio_to_old_baseline": self.ratio_to_old,
            "runs": len(self.service),
            "service_runs": self.service,
            "baseline_runs": self.baseline,
            "old_baseline_runs": self.old_baseline,
            "unit": self.unit,
        }

    def cells(self) -> list[str]:
        """The row's cells in the results table (bench/run.py, results_table)."""
        target = "—" if self.target is None else f"≤ {self.target}"
        if self.next_goal is not None:
            target += f" (next goal ≤ {self.next_goal})"
        old = (
            [ms(statistics.median(self.old_baseline)), f"{self.ratio_to_old:.2f}"]
            if self.old_baseline
            else ["—", "—"]
        )
        return [
            self.item,
            f"{self.what} ({len(self.service)} runs)",
            ms(statistics.median(self.service)),
            ms(statistics.median(self.baseline)),
            ms(self.added, sign=True),
            f"{self.ratio:.2f}",
            target,
            met_cell(self.met),
            *old,
        ]


@dataclass
class RateRow(Row):
    """A rate whose target is a floor, the more the better (events delivered per second):
    one figure per run in `service`, no baseline to divide it by."""

    unit: str = "events/s"

    @property
    def rate(self) -> float:
        return statistics.median(self.service)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.rate >= self.target

    def as_dict(self) -> dict:
        return {
            "item": self.item,
            "what": self.what,
            "service_median": self.rate,
            "baseline_median": None,
            "ratio": None,
            "added": None,
            "target": self.target,
            "target_is_floor": True,
            "next_goal": None,
            "met": self.met,
            "old_baseline_median": None,
            "ratio_to_old_baseline": None,
            "runs": len(self.service),
            "service_runs": self.service,
            "baseline_runs": [],
            "old_baseline_runs": [],
            "unit": self.unit,
        }

    def cells(self) -> list[str]:
        target = "—" if self.target is None else f"≥ {self.target:g} {self.unit}"
        return [
            self.item,
            f"{self.what} ({len(self.service)} runs)",
            f"{self.rate:.0f} {self.unit}",
            *["—"] * 3,
            target,
            met_cell(self.met),
            *["—"] * 2,
        ]


def met_cell(met: bool | None) -> str:
    return {None: "—", True: "met", False: "**missed**"}[met]


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def ms(seconds: float, sign: bool = False) -> str:
    """Milliseconds, to the hundredth below 10 ms."""
    value = seconds * 1000
    digits = 2 if abs(value) < 10 else 1
    return f"{value:+.{digits}f} ms" if sign else f"{value:.{digits}f} ms"


def take_turns(
    ways: dict[str, Callable[[int], float]],
    runs: int,
    warmup: int,
    after_each: Callable[[], None] | None = None,
) -> dict[str, list[float]]:
    """Each way's seconds over `runs` rounds in which every way takes a turn (the order
    flips every round): drift in the machine's load reaches all alike. The first `warmup`
    rounds are not recorded."""
    samples: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for run in range(warmup + runs):
        for name in names if run % 2 == 0 else names[::-1]:
            elapsed = ways[name](run)
            if run >= warmup:
                samples[name].append(elapsed)
        if after_each:
            after_each()
    return samples


def alternate(
    row: Row,
    service: Callable[[int], float],
    baseline: Callable[[int], float],
    runs: int,
    warmup: int,
    after_each: Callable[[], None] | None = None,
    old_baseline: Callable[[int], float] | None = None,
) -> Row:
    """Service and floor (and the old floor, if any) take turns (see take_turns)."""
    ways = {"service": service, "baseline": baseline}
    if old_baseline is not None:
        ways["old_baseline"] = old_baseline
    samples = take_turns(ways, runs, warmup, after_each)
    row.service.extend(samples["service"])
    row.baseline.extend(samples["baseline"])
    row.old_baseline.extend(samples.get("old_baseline", []))
    old = f", {row.ratio_to_old:.2f} against the old floor" if row.old_baseline else ""
    log(
        f"  {row.what}: {ms(statistics.median(row.service))} vs "
        f"{ms(statistics.median(row.baseline))}, ratio {row.ratio:.2f}{old}"
    )
    return row


def lead_batch(tag: str) -> list[dict]:
    """1000 leads as a CSV import sends them: every profile field, three custom fields."""
    return [
        {
            "email": f" {tag}.Lead{n}@Company{n % 97}.example.com ",
            "first_name": f"First{n}",
            "last_name": f"Last{n}",
            "company": f"Company {n % 97}",
            "position": "Head of Growth",
            "headline": "Helping B2B teams grow pipeline",
            "custom_fields": {"segment": "smb", "score": n % 100, "source": "csv-import"},
        }
        for n in range(BATCH)
    ]
