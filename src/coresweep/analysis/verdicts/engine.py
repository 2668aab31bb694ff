"""One decision engine: a claim is data (issue 20).

A claim declares its quantity (table -> sub-cases, each an estimate with an interval and the
disturbances measured on it), its bar, its equivalence band, how the cases of one sub-case
combine and which disturbances can affect it. `evaluate` turns that into a Verdict:

1. widen: a disturbance with a measured size (cores short, reference drift)
   stretches the interval by that factor on the side the truth could lie, e.g. a parallel
   run short of cores can only have been slowed, so its speedup's upper bound grows;
2. decide each case: "yes" when the widened interval clears the bar, "no" when it lies inside
   the band or entirely on the losing side of the bar, else "undecided", with the reason;
   a flag without a size blocks only the decision it could have caused;
3. combine the cases of one sub-case (`over`: "any" case or "all" of them) and the sub-cases
   into supported / refuted / conditional / inconclusive;
4. render the headline, the conditions and the rule text from the same declaration.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import pandas as pd

from coresweep import flags
from coresweep.analysis.verdicts.record import Verdict
from coresweep.claims import CLAIMS
from coresweep.flags import Flag

#: how a disturbance can move the measured estimate away from the truth
LOWERS, RAISES, EITHER = "lowers", "raises", "either"
DIRECTIONS = (LOWERS, RAISES, EITHER)
#: what a disturbance of a ratio's denominator does, given what it does to its numerator
OPPOSITE = {LOWERS: RAISES, RAISES: LOWERS, EITHER: EITHER}
#: the disturbances a claim may declare: capacity shortfall, reference drift (each
#: measured, so weighed by size), oversubscription (unmeasured: only slows), a flag a rule
#: knows can only slow its row ("slow": e.g. late arrivals), and any other flag (a failed
#: check, mixed hosts: unmeasured, either way)
KINDS = ("capacity", "drift", "oversubscription", "slow", "flag")
YES, NO, UNDECIDED = "yes", "no", "undecided"
#: a headline's length at most: one sentence (room for a sub-case named per interpreter)
HEADLINE_MAX = 200
_TOL = 1e-9

#: a flag's kind (coresweep.flags) -> the disturbance it is; noise is none: the row's own
#: interval carries that spread (a slow first run was a discarded warm-up)
DISTURBANCE_OF: dict[str, str | None] = {
    flags.NOISE: None,
    flags.CAPACITY: "capacity",
    flags.DRIFT: "drift",
    flags.OVERSUBSCRIPTION: "oversubscription",
    flags.SLOW: "slow",
    flags.FACT: "flag",
}


@cache
def schema_default(*key: str) -> float:
    """A config key's default, from the config model (the one place defaults live): e.g.
    schema_default("protocol", "difference_threshold")."""
    from coresweep import config_model

    node = config_model.defaults()
    for part in key:
        node = node[part]
    return float(node)


def default_threshold() -> float:
    """protocol.difference_threshold's default: the one place the default bar lives (schema)."""
    return schema_default("protocol", "difference_threshold")


def threshold_of(config: Mapping[str, Any] | None) -> float:
    """protocol.difference_threshold of a run's validated config, else the schema's default."""
    value = ((config or {}).get("protocol") or {}).get("difference_threshold")
    return default_threshold() if value is None else float(value)


# --- the data a quantity hands over ---------------------------------------------------------


@dataclass(frozen=True)
class Disturbance:
    """Something that may have moved a case's estimate: its kind, its measured size (the
    factor >= 1 it can stretch the estimate by; None when unmeasured) and which way."""

    kind: str
    size: float | None
    direction: str
    note: str = ""  # e.g. "probe 1.67 of 2 cores"
    source: str = ""  # the point whose probes measured it ("" when unknown)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown disturbance kind {self.kind!r}; known: {KINDS}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"disturbance direction must be one of {DIRECTIONS}")

    def text(self) -> str:
        size = f" (x{self.size:.3g})" if self.size is not None else " (size not measured)"
        return f"{self.note or self.kind}{size}"


@dataclass(frozen=True)
class Case:
    """One thing a sub-case is decided on: estimate and interval, and what may have moved it.

    group: the sub-case it belongs to (the kernel, message size, pool ...), named in the
    headline; key: a stable name (from kernel, backend, size, mode: never row order or host);
    workers: p, where the bar depends on it; reason: a note the decision must carry (e.g. why
    sampling stopped)."""

    group: str
    key: str
    estimate: float
    lo: float
    hi: float
    disturbances: tuple[Disturbance, ...] = ()
    workers: int = 1
    label: str = ""  # how the evidence names it (defaults to key)
    note: str = ""
    interpreter: str = ""
    blocked: str = ""  # the data itself refuses to decide (e.g. speedup above p)
    fact: str = ""  # a decision the data states outright (e.g. "no": the probe fell behind)


# --- bars and bands ------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """Yes when the interval lies above center x (1 + margin) (or 1 + gain x (p - 1)).

    margin None: protocol.difference_threshold. gain: the bar is that share of the ideal
    gain at the case's p (C1's "half the ideal gain"). below: yes when under 1 / (1 + margin).
    """

    margin: float | None = None
    gain: float | None = None
    center: float = 1.0
    below: bool = False
    unit: str = "×"

    def value(self, case: Case, threshold: float) -> float:
        if self.gain is not None:
            return self.center + self.gain * (case.workers - 1)
        m = threshold if self.margin is None else self.margin
        return self.center / (1 + m) if self.below else self.center * (1 + m)

    def band(self, width: float) -> tuple[float, float]:
        return self.center * (1 - width), self.center * (1 + width)

    def widen(self, lo: float, hi: float, up: float, down: float) -> tuple[float, float]:
        return lo / down, hi * up

    def text(self, threshold: float) -> str:
        if self.gain is not None:
            return f"{self.center:g} + {self.gain:g} (p - 1)"
        m = threshold if self.margin is None else self.margin
        return f"{self.center / (1 + m) if self.below else self.center * (1 + m):.3g}{self.unit}"


@dataclass(frozen=True)
class Difference:
    """Yes when the interval of a difference lies above center + margin (below: under
    center - margin); margin in the quantity's own unit."""

    margin: float
    center: float = 0.0
    below: bool = False
    unit: str = ""
    gain: None = None

    def value(self, case: Case, threshold: float) -> float:
        return self.center - self.margin if self.below else self.center + self.margin

    def band(self, width: float) -> tuple[float, float]:
        return self.center - width, self.center + width

    def widen(self, lo: float, hi: float, up: float, down: float) -> tuple[float, float]:
        return lo - abs(lo) * (down - 1), hi + abs(hi) * (up - 1)

    def text(self, threshold: float) -> str:
        return f"{self.value(Case('', '', 0, 0, 0), threshold):.3g}{self.unit}"


@dataclass(frozen=True)
class Fact:
    """An observed outcome: estimate 1 (it happened) or 0; no interval to weigh."""

    below: bool = False
    unit: str = ""
    gain: None = None
    margin: None = None

    def value(self, case: Case, threshold: float) -> float:
        return 0.5

    def band(self, width: float) -> tuple[float, float]:
        return math.nan, math.nan

    def widen(self, lo: float, hi: float, up: float, down: float) -> tuple[float, float]:
        return lo, hi

    def text(self, threshold: float) -> str:
        return "observed"


@dataclass(frozen=True)
class Rate:
    """A rate from k of n trials with its exact (Clopper-Pearson) interval. below (the claim
    says "it does not happen"): yes when the upper bound lies below `rate`, no as soon as
    one event was seen (lower bound above 0); not below ("it happens"): the other way round.
    seen_decides False: the event side too needs the interval beyond `rate` (its lower
    bound above it), so both answers are about the same rate and neither can flip into
    the other between runs of a rare event (one loss in 63 calls here, none in 72 there).
    A disturbance has no size on a count: each blocks the decision it could cause."""

    rate: float
    unit: str = ""
    below: bool = True
    seen_decides: bool = True
    gain: None = None
    margin: None = None

    def value(self, case: Case, threshold: float) -> float:
        return self.rate

    def band(self, width: float) -> tuple[float, float]:
        return math.nan, math.nan

    def widen(self, lo: float, hi: float, up: float, down: float) -> tuple[float, float]:
        return lo, hi

    def text(self, threshold: float) -> str:
        if self.below or not self.seen_decides:
            return f"a rate {'below' if self.below else 'above'} {self.rate:.0%}"
        return "one event observed"


Bar = Ratio | Difference | Fact | Rate


# --- the claim ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """What a headline says: yes / no follow "Yes" / "No"; on names the sub-cases."""

    yes: str
    no: str
    on: str
    equal: str = ""  # a "no" inside the band, e.g. "no faster"; defaults to `no`
    symbol: str = ""  # how the evidence names the estimate, e.g. "S="
    numbers: bool = True  # the headline spans the estimates (off where they mix quantities)


@dataclass(frozen=True)
class Claim:
    """A claim as data: what `evaluate` needs to decide it and to say how. Its quote,
    experiment and deciding quantity in words are the claims registry's (coresweep.claims)."""

    id: str
    quantity: Callable[[pd.DataFrame], list[Case]]
    bar: Bar
    words: Words
    band: float | None = None  # None: protocol.difference_threshold
    over: str = "any"
    #: what may have moved its estimates (KINDS); by default every disturbance of the
    #: machine: cores short, reference drift, oversubscription and any other flag
    disturbances: tuple[str, ...] = ("capacity", "drift", "oversubscription", "flag")
    context: Callable[[pd.DataFrame], str] | None = None
    #: more conditions from the decisions (e.g. where along the sizes the winner changes)
    describe: Callable[[Sequence[Decision]], str] | None = None
    plot: str = ""
    fmt: str = "{:.2f}"

    @property
    def plots(self) -> tuple[str, ...]:
        """The plot files its verdict cites (results/plots/)."""
        return (self.plot,) if self.plot else ()

    def __post_init__(self) -> None:
        def bad(why: str) -> ValueError:
            return ValueError(f"claim {self.id}: {why}")

        if self.id not in CLAIMS:
            raise bad("no such claim in coresweep.claims")
        unknown = [d for d in self.disturbances if d not in KINDS]
        if unknown:
            raise bad(f"unknown disturbance {unknown} (known: {', '.join(KINDS)})")
        if self.over not in ("any", "all"):
            raise bad(f"over must be 'any' or 'all', not {self.over!r}")
        if not callable(self.quantity):
            raise bad("quantity is not a function")
        try:
            ret = typing.get_type_hints(self.quantity).get("return")
        except Exception as exc:  # an annotation that names nothing
            raise bad(f"quantity's return annotation cannot be read ({exc})") from exc
        if ret != list[Case]:
            raise bad(
                f"quantity {getattr(self.quantity, '__name__', '?')} must return list[Case] "
                f"(cases with an interval), it declares {ret}"
            )
        self.check_band(default_threshold())

    @property
    def experiment(self) -> str:
        return CLAIMS[self.id].experiment

    def check_band(self, threshold: float) -> None:
        """The band must sit inside the losing side of the bar: a band wider than its bar
        would let one interval decide both "yes" and "no"."""
        if isinstance(self.bar, Fact | Rate):
            if self.band is not None:
                raise ValueError(f"claim {self.id}: an observed outcome has no band")
            return
        width = threshold if self.band is None else self.band
        if isinstance(self.bar, Ratio):
            edge = self.bar.gain if self.bar.gain is not None else self.bar.margin
            reach = (1 + width) - 1
        else:
            edge, reach = self.bar.margin, width
        edge = threshold if edge is None else edge
        if width < 0 or reach > edge + _TOL:
            raise ValueError(
                f"claim {self.id}: band ±{width:g} is wider than its bar (margin {edge:g})"
            )

    def band_width(self, threshold: float) -> float:
        return threshold if self.band is None else self.band

    def rule(self, threshold: float | None = None) -> str:
        """The rule in words, from the declaration itself."""
        t = default_threshold() if threshold is None else threshold
        b = self.bar
        side = "below" if b.below else "above"
        if isinstance(b, Rate):
            rare = f"the exact 95% upper bound of its rate (k of n) lies below {b.rate:.0%}"
            soon, seen = (
                ("as soon as", "one event is observed")
                if b.seen_decides
                else ("when", f"its lower bound lies above {b.rate:.0%}")
            )
            decide = (
                f"yes when {rare}, no {soon} {seen}"
                if b.below
                else (f"yes {soon} {seen}, no when {rare}")
            )
        elif isinstance(b, Fact):
            decide = "yes when it is observed, no when it is not"
        else:
            lo, hi = b.band(self.band_width(t))
            unit = b.unit
            decide = (
                f"yes when the (widened) 95% interval lies {side} {b.text(t)}, no when it lies "
                f"inside the band [{lo:.3g}, {hi:.3g}]{unit} or wholly on the other side"
            )
        over = "any case decides 'yes'" if self.over == "any" else "every case must hold"
        weighed = (
            "; measured disturbances widen the interval by their size on the side they could "
            f"act ({', '.join(self.disturbances)}), unmeasured flags block only the decision "
            "they could cause"
            if self.disturbances
            else ""
        )
        return (
            f"per {self.words.on.removeprefix('the ')}: {decide}; within one, {over}{weighed}; "
            + COMBINE
        )


COMBINE = (
    "supported if every sub-case holds, refuted if every one fails, conditional when they "
    "differ or only some are decided (the undecided named), inconclusive when none is"
)


# --- deciding one case -------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A case decided: the widened interval, the bar and band used, yes/no/undecided, why."""

    case: Case
    lo_w: float
    hi_w: float
    bar: float
    band: tuple[float, float]
    decision: str
    reason: str
    in_band: bool = False


def _finite(*xs: object) -> bool:
    try:
        return all(math.isfinite(float(x)) for x in xs)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def counted(case: Case, kinds: Sequence[str]) -> list[Disturbance]:
    """The case's disturbances of the declared kinds, each counted once. A point's reference
    drift is one change of the machine's speed during that point: the rows it gave the case
    (the two arms of a ratio measured in one point) share it, and it bounds their ratio by
    its own size, so it counts once, not once per row (twice would square it)."""
    out, drifted = [], set()
    for d in dict.fromkeys(case.disturbances):
        if d.kind not in kinds:
            continue
        if d.kind == "drift" and d.source:
            if d.source in drifted:
                continue
            drifted.add(d.source)
        out.append(d)
    return out


def factors(case: Case, kinds: Sequence[str]) -> tuple[float, float, list[Disturbance]]:
    """(up, down, unmeasured): how far the truth could lie above / below the measured
    interval by the declared, measured disturbances (`counted`); the declared ones without
    a size."""
    up = down = 1.0
    unmeasured = []
    for d in counted(case, kinds):
        if d.size is None or not math.isfinite(d.size):
            unmeasured.append(d)
            continue
        size = max(1.0, float(d.size))
        if d.direction in (LOWERS, EITHER):
            up *= size  # the measured value may be low: the truth may lie higher
        if d.direction in (RAISES, EITHER):
            down *= size
    return up, down, unmeasured


def decide_case(claim: Claim, case: Case, threshold: float) -> Decision:
    """One case's decision from its widened interval, its bar and band."""
    b = claim.bar
    bar = b.value(case, threshold)
    band = b.band(claim.band_width(threshold))
    if case.blocked and not _finite(case.lo, case.hi):  # the quantity says why it has none
        return Decision(case, case.lo, case.hi, bar, band, UNDECIDED, case.blocked)
    if not _finite(case.estimate, case.lo, case.hi):
        raise ValueError(
            f"claim {claim.id}: quantity returned case {case.key!r} without an interval "
            f"(estimate {case.estimate}, [{case.lo}, {case.hi}])"
        )
    up, down, unmeasured = factors(case, claim.disturbances)
    if isinstance(b, Rate | Fact) or case.fact:  # a count or a fact: no size translates
        up = down = 1.0
        unmeasured = [d for d in dict.fromkeys(case.disturbances) if d.kind in claim.disturbances]
    lo, hi = b.widen(case.lo, case.hi, up, down)
    widened = [d.text() for d in counted(case, claim.disturbances) if d.size]
    how = f" (widened by {', '.join(widened)})" if widened and (up > 1 or down > 1) else ""
    win_hi = not b.below  # the yes side is above the bar
    in_band = _finite(*band) and lo >= band[0] - _TOL and hi <= band[1] + _TOL
    if case.fact:
        value = case.fact
    elif isinstance(b, Rate):
        rare, seen = hi < bar, lo > (0.0 if b.seen_decides else bar)
        value = (
            (YES if rare else NO if seen else UNDECIDED)
            if b.below
            else (YES if seen else NO if rare else UNDECIDED)
        )
    elif isinstance(b, Fact):
        value = YES if case.estimate >= 0.5 else NO
    elif (lo > bar) if win_hi else (hi < bar):
        value = YES
    elif in_band or ((hi < bar) if win_hi else (lo > bar)):
        value = NO
    else:
        value = UNDECIDED
    show = claim.fmt.format
    if value == UNDECIDED and isinstance(b, Rate):
        reason = (
            f"none observed, and the upper bound {show(hi)} is not below {show(bar)}"
            if b.seen_decides or lo <= 0
            else f"interval [{show(lo)}, {show(hi)}] straddles {show(bar)}"
        )
        return Decision(case, lo, hi, bar, band, value, _with_note(reason, case), in_band)
    if value == UNDECIDED:
        edge = f"bar {show(bar)}{b.unit}" if isinstance(b, Ratio | Difference) else b.text(0)
        band_t = f" and the band [{show(band[0])}, {show(band[1])}]" if _finite(*band) else ""
        reason = f"interval [{show(lo)}, {show(hi)}]{how} straddles the {edge}{band_t}"
        return Decision(case, lo, hi, bar, band, value, _with_note(reason, case), in_band)
    if case.blocked:
        return Decision(case, lo, hi, bar, band, UNDECIDED, _with_note(case.blocked, case))
    # the low side: a "no" when yes lies above the bar, a "yes" when it lies below
    low_side = (value == NO) == win_hi
    blockers = [
        d for d in unmeasured if d.direction == EITHER or (d.direction == LOWERS) == low_side
    ]
    if blockers:
        what = ", ".join(d.text() for d in blockers)
        reason = f"flagged {what}, which could have caused this '{value}'"
        return Decision(case, lo, hi, bar, band, UNDECIDED, _with_note(reason, case), in_band)
    if case.fact:
        return Decision(case, lo, hi, bar, band, value, case.note or "stated by the data")
    if isinstance(b, Rate):
        reason = (
            f"upper bound {show(hi)} below {show(bar)}"
            if (value == YES) == b.below
            else f"observed (lower bound {show(lo)} above {show(0.0 if b.seen_decides else bar)})"
        )
        return Decision(case, lo, hi, bar, band, value, _with_note(reason, case), in_band)
    at = f"{show(bar)}{b.unit}" if isinstance(b, Ratio | Difference) else b.text(0)
    reason = f"interval [{show(lo)}, {show(hi)}]{how} " + (
        "inside the band"
        if value == NO and in_band
        else f"clears the bar {at}"
        if value == YES
        else f"wholly on the losing side of {at}"
    )
    return Decision(case, lo, hi, bar, band, value, _with_note(reason, case), in_band)


def _with_note(reason: str, case: Case) -> str:
    return f"{reason}; {case.note}" if case.note else reason


def combine_group(decisions: Sequence[Decision], over: str) -> str:
    """One sub-case from its cases: 'any' yes is enough, or 'all' must hold."""
    values = [d.decision for d in decisions]
    if over == "any":
        return YES if YES in values else UNDECIDED if UNDECIDED in values or not values else NO
    return NO if NO in values else UNDECIDED if UNDECIDED in values or not values else YES


def combine(results: Mapping[str, bool | None]) -> str:
    """supported / refuted when every sub-case holds / fails; conditional when they differ or
    only some are decided; inconclusive when none is decided."""
    values = list(results.values())
    decided = [v for v in values if v is not None]
    if not decided:
        return "inconclusive"
    if len(decided) < len(values) or (True in decided and False in decided):
        return "conditional"
    return "supported" if decided[0] else "refuted"


# --- words -----------------------------------------------------------------------------------


def names(items: Sequence[str], most: int = 3) -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= most:
        return ", ".join(items)
    return ", ".join(items[:most]) + f" and {len(items) - most} more"


def span(values: Iterable[float], fmt: str | Callable[[float], str] = "{:.2f}") -> str:
    """'1.91–1.95' (or one number when they agree) from the values' smallest and largest."""
    vals = [float(v) for v in values if _finite(v)]
    if not vals:
        return "n/a"
    show = fmt.format if isinstance(fmt, str) else fmt
    lo, hi = show(min(vals)), show(max(vals))
    return lo if lo == hi else f"{lo}–{hi}"


def clip(text: str, most: int = HEADLINE_MAX) -> str:
    text = text.rstrip(". ") + "."
    return text if len(text) <= most else text[: most - 1].rstrip(" ,;:") + "…"


@dataclass
class _Group:
    name: str
    value: str
    deciding: list[Decision] = field(default_factory=list)
    all: list[Decision] = field(default_factory=list)


def _groups(claim: Claim, decisions: Sequence[Decision]) -> list[_Group]:
    out: dict[str, _Group] = {}
    for d in decisions:
        out.setdefault(d.case.group, _Group(d.case.group, "")).all.append(d)
    for g in out.values():
        g.value = combine_group(g.all, claim.over)
        g.deciding = [d for d in g.all if d.decision == g.value] or g.all
    return list(out.values())


def _interpreted(g: _Group) -> tuple[str, str]:
    """(the group's own name, its interpreter) for a group of a split table, else (name, "")."""
    label = g.all[0].case.interpreter if g.all else ""
    suffix = f" on {_short(label)}"
    return (
        (g.name.removesuffix(suffix), label) if label and g.name.endswith(suffix) else (g.name, "")
    )


def _collapsed(these: Sequence[_Group], groups: Sequence[_Group]) -> list[str]:
    """The names of `these`, a sub-case named once without its interpreter where every
    interpreter gave it the same answer: only the differences name an interpreter."""
    answers: dict[str, set[str]] = {}
    for g in groups:
        answers.setdefault(_interpreted(g)[0], set()).add(g.value)
    out = []
    for g in these:
        base, label = _interpreted(g)
        name = base if label and len(answers[base]) == 1 else g.name
        if name not in out:
            out.append(name)
    return out


def _part(claim: Claim, value: str, groups: Sequence[_Group], every: bool, band: float) -> str:
    """One part of a headline; every: the verdict is conditional (no reasons, kept short)."""
    these = [g for g in groups if g.value == value]
    if not these:
        return ""
    which = names(_collapsed(these, groups))
    rows = [d for g in these for d in g.deciding]
    if value == UNDECIDED:
        first = these[0].deciding[0].reason.split(";")[0]
        return f"not decided for {which}" + ("" if every else f": {first}")
    nums = span([d.case.estimate for d in rows], claim.fmt) + claim.bar.unit
    if not claim.words.numbers:
        return f"{value} for {which} ({claim.words.yes if value == YES else claim.words.no})"
    if value == YES:
        return f"yes for {which} ({claim.words.yes}: {nums})"
    equal = all(d.in_band for d in rows)
    words = (claim.words.equal or claim.words.no) if equal else claim.words.no
    bars = {d.bar for d in rows}
    within = f", within ±{band:.0%}" if equal else ""
    if not equal and len(bars) == 1 and isinstance(claim.bar, Ratio | Difference):
        need = "<" if claim.bar.below else ">"
        within = f"; needs {need} {claim.fmt.format(bars.pop())}{claim.bar.unit}"
    return f"no for {which} ({words}: {nums}{within})"


def headline(claim: Claim, verdict: str, groups: Sequence[_Group], threshold: float) -> str:
    band = claim.band_width(threshold)
    parts = {
        v: _part(claim, v, groups, verdict == "conditional", band) for v in (YES, NO, UNDECIDED)
    }
    if verdict == "supported":
        return clip("Yes" + parts[YES].removeprefix("yes"))
    if verdict == "refuted":
        return clip("No" + parts[NO].removeprefix("no"))
    if verdict == "conditional":
        return clip(f"Depends on {claim.words.on}: " + "; ".join(p for p in parts.values() if p))
    return clip("Not decided" + parts[UNDECIDED].removeprefix("not decided"))


def _evidence(decisions: Sequence[Decision], fmt: str, symbol: str) -> str:
    show = fmt.format
    return "; ".join(
        f"{d.case.group}: {d.case.label or d.case.key} {symbol}{show(d.case.estimate)} "
        f"[{show(d.case.lo)}, {show(d.case.hi)}] -> {d.decision} ({d.reason})"
        for d in decisions
    )


def case_rows(claim: Claim, decisions: Sequence[Decision], threshold: float) -> tuple[dict, ...]:
    """The decisions as rows of results/tables/verdict_cases.csv."""
    band = claim.band_width(threshold) if not isinstance(claim.bar, Fact | Rate) else math.nan
    return tuple(
        {
            "claim": claim.id,
            "group": d.case.group,
            "case": d.case.key,
            "estimate": d.case.estimate,
            "lo": d.case.lo,
            "hi": d.case.hi,
            "lo_widened": d.lo_w,
            "hi_widened": d.hi_w,
            "bar": d.bar,
            "band": band,
            "band_lo": d.band[0],
            "band_hi": d.band[1],
            "decision": d.decision,
            "reason": d.reason,
            "interpreter": d.case.interpreter,
        }
        for d in decisions
    )


def _short(label: str) -> str:
    """How a headline names an interpreter: cpython-3.14t -> 3.14t (others in full)."""
    return label.removeprefix("cpython-")


def cases_by_interpreter(claim: Claim, table: pd.DataFrame) -> list[Case]:
    """The claim's cases, each tagged with the interpreter its rows ran on. A table of more
    than one interpreter is split: each interpreter's cases come from its own rows only (a
    speedup over the serial baseline of the same interpreter; a curve never mixes them),
    their keys and groups name it, so a headline says e.g. "no for mc-python on
    cpython-3.11; yes for mc-python on cpython-3.14t". One interpreter keeps the keys of a
    table without the column (runs compare across machines and versions)."""
    column = table.get("interpreter")
    if column is None or column.dropna().empty:
        return list(claim.quantity(table))
    labels = list(dict.fromkeys(column.dropna().astype(str)))
    if len(labels) == 1:
        return [replace(c, interpreter=labels[0]) for c in claim.quantity(table)]
    return [
        replace(
            c,
            interpreter=label,
            key=f"interpreter={label}|{c.key}",
            group=f"{c.group} on {_short(label)}",
        )
        for label in labels
        for c in claim.quantity(table[column.astype(str) == label].reset_index(drop=True))
    ]


def evaluate(
    claim: Claim, table: pd.DataFrame, machine: str, threshold: float | None = None
) -> Verdict:
    """The claim's verdict from its table: widen, decide, combine, say."""
    t = default_threshold() if threshold is None else float(threshold)
    claim.check_band(t)
    cases = cases_by_interpreter(claim, table)
    decisions = [decide_case(claim, c, t) for c in cases]
    groups = _groups(claim, decisions)
    results = {g.name: {YES: True, NO: False}.get(g.value) for g in groups}
    verdict = combine(results)
    where = claim.context(table) if claim.context else claim.experiment
    held = {v: [g.name for g in groups if g.value == v] for v in (YES, NO, UNDECIDED)}
    conditions = (
        f"{where} on {machine}; bar {claim.bar.text(t)}"
        + (f", band ±{claim.band_width(t):g}" if not isinstance(claim.bar, Fact | Rate) else "")
        + f"; holds for {held[YES] or 'none'}, not for {held[NO] or 'none'}"
        + (f"; undecided for {held[UNDECIDED]}" if held[UNDECIDED] else "")
        + (f"; {claim.describe(decisions)}" if claim.describe and decisions else "")
    )
    if not groups:
        return Verdict(claim.id, "inconclusive", "no case measured", conditions,
                       claim.experiment, claim.plots, clip(f"Not decided: no case of {claim.id} "
                       "was measured"), rule=claim.rule(t))  # fmt: skip
    return Verdict(
        claim.id,
        verdict,
        _evidence(decisions, claim.fmt, claim.words.symbol),
        conditions,
        claim.experiment,
        claim.plots,
        headline(claim, verdict, groups, t),
        cases=case_rows(claim, decisions, t),
        rule=claim.rule(t),
    )


# --- disturbances from a table row --------------------------------------------------------------


def disturbances(
    row: Mapping[str, Any],
    slows: str = LOWERS,
    column: str = "flags",
    who: str = "",
    oversubscribed: str | None = None,
    kinds: Mapping[Flag, str | None] | None = None,
    paired_rounds: int | None = None,
) -> tuple[Disturbance, ...]:
    """The disturbances a row's flags name, each with its measured size where the table has
    it: capacity = probe_cores / probe_capacity, drift = 1 + |drift|. Drift acts either way
    (the machine may have sped up or slowed down); slows: what slowing this row does to the
    case's estimate (LOWERS for a parallel run's speedup, RAISES for its serial baseline's);
    oversubscribed: the same for oversubscription flags where it differs (more threads than
    cores raise busy cores). kinds: a rule's own view of a flag -> its disturbance ("slow"),
    or None for a flag that describes the outcome or moves nothing; every other flag is the
    disturbance its kind says (`DISTURBANCE_OF`). paired_rounds: the estimate is a median of
    per-round ratios of arms sampled back to back in that many rounds
    (`sample_arms(together=True)`): a drift d over the point moves each round's ratio by at
    most d / rounds (a linear change spread over the rounds; a step moves one round, which
    the median ignores), so that is its size."""
    own = kinds or {}
    out = []
    prefix = f"{who}: " if who else ""
    source = str(row.get("point") or "")
    for raised in flags.parse(row.get(column)):
        f = raised.text
        kind = own[raised.flag] if raised.flag in own else DISTURBANCE_OF[raised.flag.kind]
        if kind is None:
            continue
        if kind == "flag":
            out.append(Disturbance("flag", None, EITHER, f"{prefix}{f}"))
            continue
        size, note = _size(kind, row) if column == "flags" else (None, "")
        if kind == "drift" and size is not None and paired_rounds:
            size = 1 + (size - 1) / paired_rounds
            note += f" over {paired_rounds} paired rounds"
        way = EITHER if kind == "drift" else slows
        way = (oversubscribed or slows) if kind == "oversubscription" else way
        out.append(Disturbance(kind, size, way, f"{prefix}{f}{note}", source))
    return tuple(out)


def paired_rounds(a: Mapping[str, Any], b: Mapping[str, Any]) -> int | None:
    """The rounds in which two rows' arms were sampled together: both from one point, with
    as many samples (`sample_arms(together=True)` pairs sample i of each, and
    `stats.paired_ratio_ci` then takes the median of per-round ratios); None otherwise."""
    na, nb = a.get("n"), b.get("n")
    if not a.get("point") or a.get("point") != b.get("point") or not _finite(na, nb):
        return None
    return int(na) if int(na) == int(nb) and int(na) > 1 else None  # type: ignore[arg-type]


def _size(kind: str, row: Mapping[str, Any]) -> tuple[float | None, str]:
    if kind == "capacity":
        cap, cores = row.get("probe_capacity"), row.get("probe_cores")
        if _finite(cap, cores) and float(cap) > 0:  # type: ignore[arg-type]
            return max(
                1.0, float(cores) / float(cap)
            ), f", {float(cap):.2f} of {cores:g} cores delivered"  # type: ignore[arg-type]
    if kind == "drift" and _finite(row.get("drift")):
        d = abs(float(row["drift"]))
        return 1 + d, f", {d:.1%}"
    return None, ""


def doubted(
    found: tuple[Disturbance, ...], row: Mapping[str, Any], achieved: object
) -> tuple[Disturbance, ...]:
    """The capacity shortfall re-sized when the point did more than the probe's cores' worth
    of work (achieved: a speedup's lower bound, in cores of one): the probe under-read the
    capacity, which was at least `achieved`, so the shortfall is at most cores / achieved.
    It is kept at that size, never dropped: a point may beat a probe that a hog slowed and
    still have run short of cores (seen: probe 1.05 of 2, point 1.06x)."""
    cap, cores = row.get("probe_capacity"), row.get("probe_cores")
    if not (_finite(cap, achieved, cores) and float(achieved) > float(cap)):  # type: ignore[arg-type]
        return found
    size = max(1.0, float(cores) / float(achieved))  # type: ignore[arg-type]
    note = f" (the point did {float(achieved):.2f}x: the probe under-read)"  # type: ignore[arg-type]
    return tuple(
        replace(d, size=size, note=d.note + note) if d.kind == "capacity" else d for d in found
    )


def stopped_note(row: Mapping[str, Any]) -> str:
    """Why sampling stopped, for a case's reason (decided, cap, budget, ...)."""
    s = row.get("stopped_on")
    return f"sampling stopped on {s}" if isinstance(s, str) and s else ""


def case_key(row: Mapping[str, Any], fields: Sequence[str]) -> str:
    """A stable case name from the row's identifying fields (never row order or host)."""
    return "|".join(f"{f}={row[f]}" for f in fields if f in row and not _missing(row[f]))


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))
