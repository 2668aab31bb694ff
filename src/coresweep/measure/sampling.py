"""Adaptive, interleaved sampling: warm-up, calibrated inner loops, stop on precision or budget.

Several arms (configurations measured in one job) are sampled round by round in a random
order, so slow drift of the machine spreads over all of them instead of biasing one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coresweep.measure.timer import timed
from coresweep.stats import median_ci

log = logging.getLogger("coresweep")


@dataclass(frozen=True)
class Protocol:
    warmup: int = 1
    repeats: int = 5
    max_repeats: int = 10
    min_sample_seconds: float = 0.1
    target_rel_halfwidth: float = 0.02
    point_budget_seconds: float = 4.0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Protocol:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in cfg.items() if k in names})


@dataclass
class ArmSamples:
    """Per-call wall and CPU seconds of one arm, plus how sampling went."""

    inner: int = 1
    first_run: float = 0.0
    first_output: Any = None
    warmup_wall: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    stopped_on: str = ""  # "precision", "max_repeats" or "budget"
    last_output: Any = None


def _precise(wall: list[float], target: float) -> bool:
    med, lo, hi = median_ci(wall)
    return (hi - lo) / 2 <= target * med


def _stop_reason(wall: list[float], protocol: Protocol, deadline: float) -> str:
    """Why an arm may stop sampling now ("precision", "max_repeats", "budget"), or ""."""
    n = len(wall)
    if n < protocol.repeats:
        return ""
    if _precise(wall, protocol.target_rel_halfwidth):
        return "precision"
    if n >= protocol.max_repeats:
        return "max_repeats"
    if time.monotonic() > deadline:
        return "budget"
    return ""


def sample_arms(
    arms: Mapping[str, Callable[[], Any]], protocol: Protocol, seed: int, together: bool = False
) -> dict[str, ArmSamples]:
    """Sample every arm until precise, or out of repeats or time; one call = one unit of work.

    together: every arm keeps sampling until all of them may stop, so sample i of each arm
    comes from the same round, close in time: ratios of paired samples cancel slow changes
    of the machine's speed.
    """
    out = {name: ArmSamples() for name in arms}
    for name, fn in arms.items():
        for i in range(protocol.warmup):
            result, t = timed(fn)
            out[name].warmup_wall.append(t.wall)
            if i == 0:
                out[name].first_run = t.wall
                out[name].first_output = result
            out[name].last_output = result
        # repeat short work inside one sample so timer and dispatch noise are swamped
        unit = max(out[name].warmup_wall[-1], 1e-9)
        out[name].inner = max(1, math.ceil(protocol.min_sample_seconds / unit))

    rng = np.random.default_rng(seed)
    pending = list(arms)
    deadline = time.monotonic() + protocol.point_budget_seconds
    rounds = 0
    while pending:
        rounds += 1
        for name in rng.permutation(pending):
            s = out[str(name)]
            inner = s.inner
            fn = arms[str(name)]

            def body(fn: Callable[[], Any] = fn, inner: int = inner) -> Any:
                r = None
                for _ in range(inner):
                    r = fn()
                return r

            s.last_output, t = timed(body)
            s.wall.append(t.wall / inner)
            s.cpu.append(t.cpu / inner)
        reasons = {name: _stop_reason(out[name].wall, protocol, deadline) for name in pending}
        if not together or all(reasons.values()):
            for name, why in reasons.items():
                out[name].stopped_on = why
            pending = [name for name, why in reasons.items() if not why]
        log.info("round %d: %d arm(s) still sampling", rounds, len(pending))
    return out
