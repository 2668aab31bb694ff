"""The printed form of one `coresweep advise` sweep: a table per core count, then the advice."""

from __future__ import annotations

from collections.abc import Sequence

from coresweep.advice_records import Advice, Row
from coresweep.units import fmt_seconds


def format_advice(advice: Advice) -> str:
    """The table per core count, notes, problems and the recommendation, as plain text."""
    lines = [
        f"{advice.callable} on {advice.machine}: {advice.ntasks} tasks from {advice.tasks_from}, "
        f"{fmt_seconds(advice.task_seconds)} per task in a plain loop "
        f"(first call {fmt_seconds(advice.first_call_s)}); load average at start "
        + "/".join(f"{x:.1f}" for x in advice.load_average)
        + f"; other programs used up to {advice.others_cpu_share:.0%} of the CPU time meanwhile"
    ]
    for p in sorted({r.p for r in advice.rows}):
        lines += ["", f"p = {p}", _table([r for r in advice.rows if r.p == p])]
    lines += ["", f"GIL: {advice.gil}"]
    lines += [f"note: {n}" for n in advice.notes]
    lines += [f"problem: {n}" for n in advice.problems]
    if advice.recommendation is not None:
        lines += ["", f"recommendation: {advice.recommendation.text()}"]
    lines.append(f"({advice.elapsed_s:.0f} s of a {advice.budget_seconds:.0f} s budget)")
    return "\n".join(lines)


HEADER = (
    "backend",
    "speedup [95% CI]",
    "eff.",
    "batched (size)",
    "dispatch/task",
    "extra mem",
    "start",
    "others' CPU",
)


def _cells(r: Row) -> tuple[str, ...]:
    if r.status in ("skipped", "failed"):
        return (r.backend, f"{r.status}: {r.reason}")
    mark = " (check failed)" if r.status == "check-failed" else ""
    pool = r.isolation != "inline"  # the plain loop dispatches nothing and starts nothing
    return (
        r.backend,
        (r.speedup.text() if r.speedup else "–") + mark,
        f"{r.efficiency:.2f}" if r.efficiency is not None else "–",
        f"{r.batched.text()} ({r.batch_size})" if r.batched else "–",
        fmt_seconds(r.dispatch_s) if pool else "–",
        f"{round(r.extra_mib) or 0:+d} MiB" if r.extra_mib is not None else "–",
        fmt_seconds(r.start_s) if pool else "–",
        f"{r.others_cpu_share:.0%}" if r.others_cpu_share is not None else "–",
    )


def _table(rows: Sequence[Row]) -> str:
    cells = [_cells(r) for r in rows]
    full = [c for c in cells if len(c) == len(HEADER)]
    widths = [max(len(c[i]) for c in [HEADER, *full]) for i in range(len(HEADER))]
    out = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True))]
    for c in cells:
        if len(c) == len(HEADER):
            out.append("  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)))
        else:
            out.append(f"{c[0].ljust(widths[0])}  {c[1]}")
    return "\n".join(line.rstrip() for line in out)
