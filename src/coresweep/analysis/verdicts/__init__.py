"""Verdict rules, one module per experiment: tidy table in, Verdict rows out.

Every rule decides the same way (issue 16):

- `check_table` refuses impossible input (negative times, an interval that does not hold
  its own median, a NaN median with an interval) with a ValueError naming the table, the
  column and the row: bad input is never decided.
- `usable` drops points flagged `oversubscribed` (more workers than the node's usable cores)
  before anything is decided.
- A point decides when its interval clears the claim's bar (`clears`).
- `judge` keeps a decision unless one of the point's flags could flip it: spread flags
  (cv>10%, ...) never can, the interval carries the spread; contention flags (low capacity,
  reference drift, high load at start) push the measured quantity one known way per rule,
  so they block only the decision they could have caused; any other flag (a failed check,
  mixed hosts, ...) blocks both.  A `low-capacity` flag that the point contradicts (it did
  more than the probe's cores' worth of work) doubts the probe, not the data: it is dropped
  and the evidence says "probe doubted".
- `combine`: supported / refuted when every sub-case is decided one way, conditional when
  they differ or some are undecided (those are named), inconclusive when none is decided;
  `cannot_test` when the machine cannot test the claim, with the reason as headline.
- `say` writes the one-line headline: Yes / No / Depends on ... / Not decided: ...
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from coresweep.analysis.verdict import Verdict

THRESHOLD = 0.05  # relative difference below which two measurements count as equal
HEADLINE_MAX = 160

# --- bad input ----------------------------------------------------------------------------

#: columns that name a row in an error message, where a table has them
ROW_KEYS = ("kernel", "backend", "mode", "p", "size", "transport", "mechanism", "pin", "kind",
            "family", "variant", "split", "sharing", "state", "workers", "fault", "load",
            "threads")  # fmt: skip
_TOL = 1e-9


def _row_name(table: pd.DataFrame, idx: Any) -> str:
    keys = [f"{k}={table.at[idx, k]}" for k in ROW_KEYS if k in table.columns]
    return f"row {idx}" + (f" ({', '.join(keys[:4])})" if keys else "")


def _numeric(table: pd.DataFrame, name: str, col: str) -> pd.Series:
    values = pd.to_numeric(table[col], errors="coerce")
    bad = values.isna() & table[col].notna()
    if bad.any():
        idx = bad[bad].index[0]
        raise ValueError(
            f"{name} table, column {col!r}, {_row_name(table, idx)}: "
            f"{table.at[idx, col]!r} is not a number"
        )
    return values.astype(float)


#: the columns many tables share (Summary.time_columns, a speedup over serial): always checked
COMMON_INTERVALS = (
    ("time_median", "time_ci_lo", "time_ci_hi"),
    ("speedup", "speedup_ci_lo", "speedup_ci_hi"),
)
COMMON_NONNEGATIVE = ("time_median", "time_ci_lo", "speedup", "speedup_ci_lo")


def check_table(
    table: pd.DataFrame,
    name: str,
    *,
    intervals: Iterable[tuple[str, str, str]] = (),
    nonnegative: Iterable[str] = (),
) -> None:
    """Refuse a table with impossible values: a ValueError naming the table, column and row.

    intervals: (estimate, lower, upper) column triples; each lower <= estimate <= upper, and
    an interval only with an estimate. nonnegative: columns that cannot be below zero (times,
    rates, speedups). The shared time and speedup columns are always checked; columns the
    table lacks are skipped (a rule that reads them fails on
    its own).
    """
    for col in (*COMMON_NONNEGATIVE, *nonnegative):
        if col in table.columns:
            v = _numeric(table, name, col)
            neg = v < 0
            if neg.any():
                idx = neg[neg].index[0]
                raise ValueError(
                    f"{name} table, column {col!r}, {_row_name(table, idx)}: negative value "
                    f"{v[idx]!r} is impossible"
                )
    for mid, lo, hi in (*COMMON_INTERVALS, *intervals):
        if not {mid, lo, hi} <= set(table.columns):
            continue
        m, a, b = (_numeric(table, name, c) for c in (mid, lo, hi))
        tol = _TOL * (m.abs().fillna(0) + 1)
        problems = (
            (m.isna() & (a.notna() | b.notna()), f"no {mid} (NaN) but an interval"),
            (m.notna() & (a.isna() != b.isna()), f"{lo}/{hi} has only one bound"),
            (a > m + tol, f"{lo} above {mid}"),
            (b < m - tol, f"{hi} below {mid}"),
        )
        for mask, what in problems:
            if mask.any():
                idx = mask[mask].index[0]
                raise ValueError(
                    f"{name} table, {_row_name(table, idx)}: {what} "
                    f"({lo}={a[idx]!r}, {mid}={m[idx]!r}, {hi}={b[idx]!r}); refusing to decide"
                )


# --- flags --------------------------------------------------------------------------------

OVERSUBSCRIBED = "oversubscribed"
LOW_CAPACITY = "low-capacity"
#: the machine gave the point fewer cores (or slower ones) than asked for
CONTENTION = (LOW_CAPACITY, "reference-drift", "high-load-at-start")
#: spread the point's interval already carries; a slow first run was a discarded warm-up
NOISE = ("cv>", "min/max>", "samples<", "sampling<", "memory-unsteady", "fit<", "slow-first-run")

#: how a flag can move a sub-case: it can only push toward "no" (AGAINST: a "yes" reached
#: despite it stands), only toward "yes" (FOR), either way (EITHER), or not at all (NONE)
AGAINST, FOR, EITHER, NONE = "against", "for", "either", "none"


def flags_of(cell: object) -> list[str]:
    """The flags of a ';'-joined cell; none for a missing cell (an old table)."""
    return [f for f in cell.split(";") if f] if isinstance(cell, str) else []


def usable(table: pd.DataFrame) -> pd.DataFrame:
    """The points that may decide: those not flagged oversubscribed."""
    if "flags" not in table.columns or table.empty:
        return table
    return table[[OVERSUBSCRIBED not in flags_of(f) for f in table["flags"]]]


def effect(flag: str, contention: str, bias: Mapping[str, str] | None = None) -> str:
    """How this flag can move the rule's sub-case: bias overrides, else by class."""
    if bias and flag in bias:
        return bias[flag]
    if flag.startswith(NOISE):
        return NONE
    if flag in CONTENTION:
        return contention
    return EITHER


def blocks(flag: str, value: bool, contention: str, bias: Mapping[str, str] | None = None) -> bool:
    """Could this flag have produced the decision `value`?"""
    e = effect(flag, contention, bias)
    return e == EITHER or (e == AGAINST and not value) or (e == FOR and value)


def probe_doubt(row: Mapping[str, Any], achieved: float | None = None) -> str:
    """The note when a `low-capacity` point did more than the probe's cores' worth of work:
    achieved, the lower bound of its work per unit of one core's (a speedup's, a throughput
    in cores'), above the cores the probe saw. CPU time is no such proof: a spinning or
    descheduled worker counts it too."""
    cap = row.get("probe_capacity")
    if LOW_CAPACITY not in flags_of(row.get("flags")) or not (_finite(cap) and _finite(achieved)):
        return ""
    if float(achieved) <= float(cap):  # type: ignore[arg-type]
        return ""
    return (
        f"probe doubted: low-capacity, yet {float(achieved):.2f}x one core measured while the "  # type: ignore[arg-type]
        f"probe saw {float(cap):.2f} cores"
    )


def _finite(x: object) -> bool:
    try:
        return math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Call:
    """A sub-case's decision: True holds, False fails, None undecided; `why` says why it is
    undecided (the flags that could flip it, an interval that straddles the bar), `probe`
    that the capacity probe was doubted."""

    value: bool | None
    why: str = ""
    probe: str = ""
    flags: tuple[str, ...] = ()  # the flags that kept it from deciding

    @property
    def note(self) -> str:
        return "; ".join(n for n in (self.why, self.probe) if n)

    def text(self) -> str:
        return f" ({self.note})" if self.note else ""


@dataclass(frozen=True)
class Side:
    """One point a decision rests on, with how its flags can move that decision.

    contention: how contention flags move the rule's sub-case for this point (AGAINST when
    they slow the side the claim favours); bias: the same for other flags, by name.
    achieved: the cores' worth of work the point did at least (a speedup's lower bound),
    which may contradict a low-capacity flag. column: where its flags are. who: names the
    point in the note.
    """

    row: Mapping[str, Any]
    contention: str = EITHER
    achieved: float | None = None
    column: str = "flags"
    who: str = ""
    bias: Mapping[str, str] | None = None


DRIFT = "reference-drift"


def drift_factor(sides: Sequence[Side]) -> float:
    """How far the drifted sides' speed changes could stretch a ratio between them: the
    product of (1 + |drift|) over the points of the sides flagged reference-drift (drift =
    the reference kernel's relative change from the point's start to its end, column
    `drift`). Inf when a flagged side's drift is unknown."""
    drifts: dict[object, float] = {}
    for i, side in enumerate(sides):
        if DRIFT in flags_of(side.row.get(side.column)):
            d = side.row.get("drift")
            # sides measured in one point share its one change of speed: counted once
            key = side.row.get("point") or i
            drifts[key] = abs(float(d)) if _finite(d) else math.inf  # type: ignore[arg-type]
    return math.prod(1 + d for d in drifts.values())


def judge(
    value: bool | None, *sides: Side, interval: tuple[float, float, float] | None = None
) -> Call:
    """The interval's decision `value`, unless a flag of a point it rests on could flip it.

    interval: (lower, upper, bar) of a ratio the decision was read from. A reference-drift
    flag then blocks only when the drift could have moved the ratio across the bar: the
    interval widened by the sides' drift factor (`drift_factor`) must still clear it.
    """
    excused = ()
    if interval is not None and value is not None:
        lo, hi, bar = interval
        w = drift_factor(sides)
        if clears(lo / w, hi * w, bar) is not None:
            excused = (DRIFT,)
    against, probes, blocking = [], [], []
    for side in sides:
        doubted = probe_doubt(side.row, side.achieved) if side.column == "flags" else ""
        probes += [doubted] if doubted else []
        flags = flags_of(side.row.get(side.column))
        flags = [f for f in flags if not (doubted and f == LOW_CAPACITY) and f not in excused]
        bad = [
            f for f in flags if value is not None and blocks(f, value, side.contention, side.bias)
        ]
        blocking += bad
        if bad:
            against.append(f"{side.who}: {', '.join(bad)}" if side.who else ", ".join(bad))
    probe = "; ".join(probes)
    if value is None:
        return Call(None, "the interval does not clear the bar either way", probe)
    if against:
        return Call(None, "undecided: " + "; ".join(against), probe, tuple(dict.fromkeys(blocking)))
    return Call(value, "", probe)


def clears(lo: float, hi: float, bar: float) -> bool | None:
    """True when the whole interval lies above the bar, False when below, None otherwise."""
    if not (_finite(lo) and _finite(hi)):
        return None
    if lo > bar:
        return True
    if hi < bar:
        return False
    return None


def decide(lo: float, hi: float, bar: float, *sides: Side) -> Call:
    """A ratio's interval against the bar (`clears`), judged with its flags (`judge`)."""
    return judge(clears(lo, hi, bar), *sides, interval=(lo, hi, bar))


def ratio_interval(num: Sequence[float], den: Sequence[float]) -> tuple[float, float, float]:
    """num / den from two (estimate, lower, upper) intervals: the estimate and the widest
    ratio both intervals allow (independent sides, so conservative)."""
    (n, nlo, nhi), (d, dlo, dhi) = num, den
    return n / d, nlo / dhi, nhi / dlo


def all_of(calls: Iterable[bool | None]) -> bool | None:
    """True when every part holds, False as soon as one fails, None otherwise."""
    values = list(calls)
    if False in values:
        return False
    return None if None in values else True


def any_of(calls: Iterable[bool | None]) -> bool | None:
    """True as soon as one part holds, False when every part fails, None otherwise."""
    values = list(calls)
    if True in values:
        return True
    return None if None in values or not values else False


def merge(calls: Iterable[Call], how: str = "all") -> Call:
    """Several parts as one sub-case: every part must hold ("all") or one is enough ("any")."""
    calls = list(calls)
    value = (all_of if how == "all" else any_of)(c.value for c in calls)
    why = [c.why for c in calls if c.why] if value is None else []
    probe = [c.probe for c in calls if c.probe]
    flags = [f for c in calls for f in c.flags] if value is None else []
    return Call(
        value,
        "; ".join(dict.fromkeys(why)),
        "; ".join(dict.fromkeys(probe)),
        tuple(dict.fromkeys(flags)),
    )


def open_reason(calls: Iterable[Call], otherwise: str) -> str:
    """Why a sub-case is not decided, for a headline: the flags that could have caused its
    outcome, or else the rule's own reason (the intervals do not clear the bar)."""
    open_ = [c for c in calls if c.value is None]
    flags = list(dict.fromkeys(f for c in open_ for f in c.flags))
    if not flags:
        return otherwise
    rest = "; other intervals do not clear the bar" if any(not c.flags for c in open_) else ""
    return f"flagged {', '.join(flags)}, which could have caused the outcome{rest}"


# --- combining sub-cases ----------------------------------------------------------------------


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


combine_undecided = combine  # the name the rules used while some sub-cases were two-valued


def holding(results: Mapping[str, bool | None], value: bool | None) -> list[str]:
    return [k for k, v in results.items() if v is value]


def outcome_text(results: Mapping[str, bool | None]) -> str:
    """'holds for [...], not for [...]; undecided for [...]' for the conditions."""
    text = (
        f"holds for {holding(results, True) or 'none'}, not for {holding(results, False) or 'none'}"
    )
    open_ = holding(results, None)
    return text + (f"; undecided for {open_}" if open_ else "")


# --- descriptors ------------------------------------------------------------------------------

#: the descriptor's facts as table columns (backends.base.Descriptor.columns(); a test keeps
#: the two in step): analysis reads them from the tables, it never imports the backends
DESCRIPTOR_COLUMNS = (
    "backend_isolation",
    "backend_shares_memory",
    "backend_arguments",
    "backend_pickler",
    "backend_start_method",
    "backend_supervision",
    "backend_gil_bound",
    "backend_batch",
    "backend_dispatch",
)


def described(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every descriptor column, as the table carries it (every experiment's
    table does: experiments.with_descriptors); a column a table lacks is empty, so its rows
    are selected by nothing. Analysis reads tables only: it never asks the backend registry."""
    missing = [c for c in DESCRIPTOR_COLUMNS if c not in table.columns]
    return table.assign(**{c: None for c in missing}) if missing else table


def is_processes(table: pd.DataFrame) -> Any:
    """Rows whose workers run in other processes than the caller's (any machine)."""
    return described(table).backend_isolation.isin(("process", "cluster")).to_numpy()


def is_threads(table: pd.DataFrame) -> Any:
    """Rows whose workers are threads of the caller's process."""
    return (described(table).backend_isolation == "thread").to_numpy()


# --- verdicts and headlines -------------------------------------------------------------------


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


Text = str | tuple[str, str]  # one text, or (when every sub-case agrees, when only some do)


def say(
    verdict: str,
    results: Mapping[str, bool | None] | None = None,
    *,
    yes: Text = "",
    no: Text = "",
    open_: str = "",
    on: str = "",
    reason: str = "",
    numbers: Mapping[str, float] | None = None,
    fmt: str | Callable[[float], str] = "{:.2f}",
) -> str:
    """The headline: 'Yes …', 'No …', 'Depends on …: yes …; no …; not decided …' or
    'Not decided: …'. yes / no / open_ are what follows those words; in them '{which}' names
    the sub-cases that hold / fail / are undecided and '{span}' spans their `numbers`; a part
    without any sub-case is left out."""
    results = results or {}
    every = verdict in ("supported", "refuted")

    def fill(text: Text, value: bool | None) -> str:
        text = text if isinstance(text, str) else text[0 if every else 1]
        keys = holding(results, value)
        text = text.replace("{which}", names(keys))
        if numbers is not None:
            text = text.replace("{span}", span([numbers[k] for k in keys if k in numbers], fmt))
        return text

    if verdict == "supported":
        return clip("Yes" + fill(yes, True))
    if verdict == "refuted":
        return clip("No" + fill(no, False))
    if verdict == "conditional":
        parts = [
            f"{word}{fill(text, v)}"
            for word, text, v in (
                ("yes", yes, True),
                ("no", no, False),
                ("not decided", open_, None),
            )
            if text and (not results or holding(results, v))
        ]
        return clip(f"Depends on {on}: " + "; ".join(parts))
    return clip(f"Not decided: {reason}")


def cannot_test(
    claims: Sequence[str],
    reason: str,
    conditions: str,
    experiment: str,
    plot: str = "",
    evidence: str = "",
) -> list[Verdict]:
    """inconclusive because this machine cannot test the claim: the reason is the headline."""
    return [
        Verdict(c, "inconclusive", evidence or reason, conditions, experiment, plot, clip(reason))
        for c in claims
    ]


def undecided(claim: str, reason: str, conditions: str, experiment: str, plot: str = "") -> Verdict:
    """inconclusive because nothing was measured that could decide: 'Not decided: reason'."""
    return Verdict(
        claim, "inconclusive", reason, conditions, experiment, plot, say("", reason=reason)
    )
