"""Adaptive, interleaved sampling: warm-up, calibrated inner loops, stop on precision or budget,
and sample on while a ratio that decides a claim straddles its bar.

Several arms (configurations measured in one job) are sampled round by round in a random
order, so slow drift of the machine spreads over all of them instead of biasing one.

Sampling until decisive: the caller names the arm ratios that decide (`Decision`: scale x
time of `num` / time of `den`, e.g. the serial baseline over a parallel arm = speedup). The
measurement layer knows no claims, so the bar is the config's one default,
`protocol.difference_threshold` t: a ratio is decisive once its 95% interval lies entirely
above 1 + t (yes) or entirely below it (the losing side, which holds the equivalence band
[1 - t, 1 + t]: no). When the ordinary protocol would stop (precision, max_repeats or the
point's budget) while a deciding ratio straddles 1 + t, its arms sample on, up to
`decisive_max_repeats` samples ("cap"), `decisive_budget_seconds` of extra time per call,
and what the job's ledger holds ("budget"): every call with decisions credits
`decisive_budget_share` x its ordinary seconds, extra sampling spends it. An arm that
sampled on and then decided stops on "decided".
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coresweep.config_model import ProtocolSection
from coresweep.measure.timer import timed
from coresweep.stats import median_ci, paired_ratio_ci, ratio_ci

log = logging.getLogger("coresweep")


#: the protocol section's defaults: the config model is the one place they live
_DEFAULT = ProtocolSection()


@dataclass(frozen=True)
class Protocol:
    """How one point is sampled; defaults are the config model's `protocol` section."""

    warmup: int = _DEFAULT.warmup
    repeats: int = _DEFAULT.repeats
    max_repeats: int = _DEFAULT.max_repeats
    min_sample_seconds: float = _DEFAULT.min_sample_seconds
    target_rel_halfwidth: float = _DEFAULT.target_rel_halfwidth
    point_budget_seconds: float = _DEFAULT.point_budget_seconds
    #: the one default bar and equivalence band of a deciding ratio: 1 + t and [1 - t, 1 + t]
    difference_threshold: float = _DEFAULT.difference_threshold
    #: while a deciding ratio straddles its bar: at most this many samples per arm ...
    decisive_max_repeats: int = _DEFAULT.decisive_max_repeats
    #: ... at most this many extra seconds per sample_arms call ...
    decisive_budget_seconds: float = _DEFAULT.decisive_budget_seconds
    #: ... and, over a job, at most this fraction of the seconds its deciding calls sampled
    decisive_budget_share: float = _DEFAULT.decisive_budget_share

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Protocol:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in cfg.items() if k in names})


@dataclass(frozen=True)
class Decision:
    """A ratio of two arms' times that decides a claim: scale x time(num) / time(den).

    Samples of the same round are paired (the median of per-round ratios) when the arms
    were sampled together, otherwise the medians are divided."""

    num: str
    den: str
    scale: float = 1.0

    def interval(self, out: Mapping[str, ArmSamples], paired: bool) -> tuple[float, float, float]:
        ci = paired_ratio_ci if paired else ratio_ci
        r, lo, hi = ci(out[self.num].wall, out[self.den].wall)
        return self.scale * r, self.scale * lo, self.scale * hi


def decisive(lo: float, hi: float, threshold: float) -> bool:
    """The interval lies entirely above the bar 1 + t, or entirely below it (no)."""
    bar = 1.0 + threshold
    return lo > bar or hi <= bar


@dataclass
class Ledger:
    """Extra seconds that decisive sampling may still spend in this process (one job)."""

    credit: float = 0.0
    spent: float = 0.0

    def available(self) -> float:
        return max(0.0, self.credit - self.spent)


#: the job's ledger: a job is one process, so summed over jobs it bounds the run
LEDGER = Ledger()


@dataclass
class ArmSamples:
    """Per-call wall and CPU seconds of one arm, plus how sampling went."""

    inner: int = 1
    first_run: float = 0.0
    first_output: Any = None
    warmup_wall: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    #: "precision", "max_repeats" or "budget" (the ordinary protocol); "decided", "cap" or
    #: "budget" for an arm that sampled on because a deciding ratio straddled its bar
    stopped_on: str = ""
    last_output: Any = None
    extra_rounds: int = 0  # samples taken because a deciding ratio straddled


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


def _decisions(
    decide: Sequence[Decision | tuple[Any, ...]], arms: Mapping[str, Any]
) -> list[Decision]:
    out = [d if isinstance(d, Decision) else Decision(*d) for d in decide]
    unknown = sorted({n for d in out for n in (d.num, d.den) if n not in arms})
    if unknown:
        raise ValueError(f"deciding ratios name arms that are not sampled: {unknown}")
    return out


def straddling(
    decisions: Sequence[Decision], out: Mapping[str, ArmSamples], threshold: float, paired: bool
) -> set[str]:
    """Arms of the deciding ratios whose interval straddles the bar."""
    open_: set[str] = set()
    for d in decisions:
        if not decisive(*d.interval(out, paired)[1:], threshold):
            open_ |= {d.num, d.den}
    return open_


@dataclass
class _Extension:
    """The extra sampling of one call: when it began and how long it may last."""

    started: float = math.nan
    allowed: float = 0.0
    arms: set[str] = field(default_factory=set)

    @property
    def on(self) -> bool:
        return not math.isnan(self.started)


#: the calibration burst of a short call lasts this share of min_sample_seconds
CALIBRATION_SHARE = 0.25


def calibrated_unit(fn: Callable[[], Any], first: float, min_sample_seconds: float) -> float:
    """Seconds per call of fn: `first` (one call already timed) where one call fills a sample;
    otherwise the mean over the first burst of 1, 2, 4 ... calls (timed as a sample times
    them: the clock read around the burst, not each call) that lasts CALIBRATION_SHARE of a
    sample, so that one slow or fast call cannot set how many calls a sample repeats."""
    if first >= min_sample_seconds:
        return first
    target = CALIBRATION_SHARE * min_sample_seconds
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= target:
            return max(elapsed / n, 1e-9)
        n *= 2


def sample_arms(
    arms: Mapping[str, Callable[[], Any]],
    protocol: Protocol,
    seed: int,
    together: bool = False,
    decide: Sequence[Decision | tuple[Any, ...]] = (),
    ledger: Ledger | None = None,
) -> dict[str, ArmSamples]:
    """Sample every arm until precise, or out of repeats or time; one call = one unit of work.

    together: every arm keeps sampling until all of them may stop, so sample i of each arm
    comes from the same round, close in time: ratios of paired samples cancel slow changes
    of the machine's speed.
    decide: the arm ratios (Decision, or (num, den[, scale]) tuples) that decide a claim;
    their arms sample on while the ratio straddles the bar (see the module docstring).
    ledger: the job's budget for that (LEDGER unless a test gives its own).
    """
    decisions = _decisions(decide, arms)
    ledger = LEDGER if ledger is None else ledger
    began = time.monotonic()
    out = {name: ArmSamples() for name in arms}
    for name, fn in arms.items():
        for i in range(protocol.warmup):
            result, t = timed(fn)
            out[name].warmup_wall.append(t.wall)
            if i == 0:
                out[name].first_run = t.wall
                out[name].first_output = result
            out[name].last_output = result
        # repeat short work inside one sample so timer and dispatch noise are swamped; the
        # unit is timed over a burst of calls, never from one first call alone (seen: a
        # 464 µs first round trip of a 25 µs steady one gave 1 ms samples, not 20 ms)
        unit = calibrated_unit(fn, out[name].warmup_wall[-1], protocol.min_sample_seconds)
        out[name].inner = max(1, math.ceil(protocol.min_sample_seconds / unit))

    rng = np.random.default_rng(seed)
    pending = list(arms)
    deadline = time.monotonic() + protocol.point_budget_seconds
    ext = _Extension()
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
            if ext.on and str(name) in ext.arms:
                s.extra_rounds += 1
        reasons = {name: _stop_reason(out[name].wall, protocol, deadline) for name in pending}
        if decisions and any(reasons.values()):
            reasons = _decide(reasons, decisions, out, protocol, together, ext, ledger, began)
        if not together or all(reasons.values()):
            for name, why in reasons.items():
                out[name].stopped_on = why
            pending = [name for name, why in reasons.items() if not why]
        log.info("round %d: %d arm(s) still sampling", rounds, len(pending))
    if decisions:
        if ext.on:
            ledger.spent += time.monotonic() - ext.started
        else:
            ledger.credit += protocol.decisive_budget_share * (time.monotonic() - began)
    return out


def _decide(
    reasons: dict[str, str],
    decisions: Sequence[Decision],
    out: Mapping[str, ArmSamples],
    protocol: Protocol,
    paired: bool,
    ext: _Extension,
    ledger: Ledger,
    began: float,
) -> dict[str, str]:
    """The stop reasons once deciding ratios are weighed: an arm of a ratio that straddles
    its bar samples on (reason "") until the cap or the extra budget; one that sampled on
    and decided stops on "decided"."""
    ready = {d for d in decisions if reasons.get(d.num, "x") and reasons.get(d.den, "x")}
    open_ = straddling(list(ready), out, protocol.difference_threshold, paired)
    now = time.monotonic()
    if open_ and not ext.on:
        ext.started = now
        ledger.credit += protocol.decisive_budget_share * (now - began)
        ext.allowed = min(protocol.decisive_budget_seconds, ledger.available())
    # an arm whose partner in a ratio still samples waits for it: the ratio is weighed once
    # both sides are done, and its interval narrows with either side's samples
    waiting = {a for d in decisions for a, b in ((d.num, d.den), (d.den, d.num))
               if reasons.get(b) == ""}  # fmt: skip
    out_reasons = dict(reasons)
    for name, why in reasons.items():
        if not why:
            continue
        if name in waiting:
            out_reasons[name] = ""
        elif name in open_:
            if len(out[name].wall) >= protocol.decisive_max_repeats:
                out_reasons[name] = "cap"
            elif now - ext.started >= ext.allowed:
                out_reasons[name] = "budget"
            else:
                out_reasons[name] = ""
                ext.arms.add(name)
        elif name in ext.arms:
            out_reasons[name] = "decided"
    return out_reasons
