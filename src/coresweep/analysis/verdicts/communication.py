"""Verdict for C5 from the communication table: thread round trips vs process round trips by size."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from coresweep.analysis.verdicts import rule, usable
from coresweep.analysis.verdicts.engine import (
    LOWERS,
    NO,
    RAISES,
    YES,
    Case,
    Claim,
    Decision,
    Ratio,
    Words,
    case_key,
    disturbances,
    evaluate,
    paired_rounds,
    stopped_note,
)
from coresweep.analysis.verdicts.record import Verdict
from coresweep.units import fmt_bytes, fmt_seconds

NAME = "communication"
US = 1e-6  # the table keeps round trips in microseconds
PLOT = "communication_latency.svg"
INTERVALS = (
    ("rtt_us", "rtt_us_ci_lo", "rtt_us_ci_hi"),
    ("vs_thread", "vs_thread_ci_lo", "vs_thread_ci_hi"),
    ("bandwidth_gbs", "bandwidth_gbs_ci_lo", "bandwidth_gbs_ci_hi"),
)
NONNEGATIVE = ("rtt_us", "rtt_us_ci_lo", "vs_thread", "bandwidth_gbs", "size")


def _rtt(row: pd.Series) -> str:
    return (
        f"{row.transport} {fmt_seconds(US * row.rtt_us)} "
        f"[{fmt_seconds(US * row.rtt_us_ci_lo)}, {fmt_seconds(US * row.rtt_us_ci_hi)}]"
    )


FAMILIES = (("multiprocessing", ""), ("dask", "Dask "))
PLACED = {"apart": "on another CPU than the sender", "together": "on the sender's CPU",
          "os": "by the scheduler"}  # fmt: skip


def round_trip_ratios(table: pd.DataFrame) -> list[Case]:
    """Per family and size: the fastest process transport's round trip over the thread
    side's. A slowed process side raises the ratio, a slowed thread side lowers it."""
    table = usable(table)
    cases = []
    for family, prefix in FAMILIES:
        procs = table[(table.family == family) & (table.kind == "process")]
        for size, g in procs[procs.vs_thread.notna()].groupby("size"):
            best = g.loc[g.rtt_us.idxmin()]
            ref = table[(table.transport == best.thread_ref) & (table["size"] == size)].iloc[0]
            rounds = paired_rounds(best, ref)  # one point's arms: a ratio per round
            moved = disturbances(
                best, RAISES, who=best.transport, paired_rounds=rounds
            ) + disturbances(ref, LOWERS, who=ref.transport, paired_rounds=rounds)
            cases.append(
                Case(
                    f"{prefix}{fmt_bytes(int(size))}",
                    case_key(best, ("family", "size")),
                    float(best.vs_thread),
                    float(best.vs_thread_ci_lo),
                    float(best.vs_thread_ci_hi),
                    moved,
                    label=f"{_rtt(ref)} vs {_rtt(best)}",
                    note=stopped_note(best),
                )
            )
    return cases


def _conditions(table: pd.DataFrame) -> str:
    cores = int(table.cores.max())
    sizes = sorted(table["size"].unique())
    lines = [_bandwidths(table, family) for family, _ in FAMILIES]
    # tables written before partners were placed have no placement column
    placed = sorted(set(table.placement)) if "placement" in table.columns else []
    where = f" (echo partners placed {', '.join(PLACED[p] for p in placed)})" if placed else ""
    return (
        f"ping-pong on {cores} core(s){where}, messages "
        f"{fmt_bytes(int(sizes[0]))} .. "
        f"{fmt_bytes(int(sizes[-1]))}; "
        + "; ".join(x for x in lines if x)
        + "; the thread queue passes a reference (nothing copied), shm-event copies each "
        "message once into shared memory; the 'complex synchronization' half of the claim "
        "(code and primitives needed) is not measured"
    )


def labels(sizes: list[int]) -> str:
    return ", ".join(fmt_bytes(s) for s in sizes)


def crossover(outcomes: dict[int, bool | None]) -> str:
    """Where the winner changes along the size ladder, and which sizes stay undecided."""
    ahead = sorted(s for s, v in outcomes.items() if v)
    level = sorted(s for s, v in outcomes.items() if v is False)
    open_ = sorted(s for s, v in outcomes.items() if v is None)
    if not ahead and not level:
        text = "no size decided"
    elif not level:
        text = f"threads faster at {labels(ahead)}"
    elif not ahead:
        text = f"a process transport as fast or faster at {labels(level)}"
    elif max(level) < min(ahead):
        text = (
            f"a process transport is as fast up to {fmt_bytes(max(level))}; threads pull "
            f"ahead from {fmt_bytes(min(ahead))}"
        )
    elif max(ahead) < min(level):
        text = (
            f"threads faster up to {fmt_bytes(max(ahead))}; a process transport is as fast "
            f"from {fmt_bytes(min(level))}"
        )
    else:
        text = f"no single crossover: threads faster at {labels(ahead)}, not at {labels(level)}"
    return text + (f" (undecided at {labels(open_)})" if open_ else "")


def crossovers(decisions: Sequence[Decision]) -> str:
    """The crossover of each family, from its sizes' decisions."""
    value = {YES: True, NO: False}
    per: dict[str, dict[int, bool | None]] = {}
    for d in decisions:
        fields = dict(part.split("=", 1) for part in d.case.key.split("|"))
        per.setdefault(fields["family"], {})[int(fields["size"])] = value.get(d.decision)
    return "; ".join(f"{family}: {crossover(outcomes)}" for family, outcomes in per.items())


def _bandwidths(table: pd.DataFrame, family: str) -> str:
    sub = table[table.family.isin(["threads", family])]
    if sub.empty:
        return ""
    top = sub[sub["size"] == sub["size"].max()].sort_values("bandwidth_gbs", ascending=False)
    parts = [f"{r.transport} {r.bandwidth_gbs:.3g} GB/s" for r in top.itertuples()]
    return f"bandwidth at {fmt_bytes(int(top['size'].iloc[0]))}: " + ", ".join(parts)


C5 = Claim(
    "C5",
    round_trip_ratios,
    Ratio(),
    Words("threads faster", "a process transport as fast", "message size"),
    context=_conditions,
    describe=crossovers,
    plot=PLOT,
)
CLAIMS = (C5,)


@rule(NAME, intervals=INTERVALS, nonnegative=NONNEGATIVE)
def communication_verdicts(
    table: pd.DataFrame, machine: str, threshold: float | None = None
) -> list[Verdict]:
    """C5: the thread side round-trips faster than the fastest process transport, per size."""
    return [evaluate(C5, table, machine, threshold)]
