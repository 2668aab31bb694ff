"""`coresweep advise`: measure a user's function under every execution model and pick one.

One quick sweep on this machine. A plain loop over the tasks is the baseline; then every
backend at every core count is sampled with four interleaved arms, so load from other
programs hits both sides of a ratio alike:

- serial:   the plain loop again, in this process (the paired baseline)
- work:     the backend maps the function over the tasks, one task per dispatch
- batched:  the same tasks in one batch per worker (what batching buys)
- dispatch: a no-op over the same task arguments (what sending one task costs)

Speedup = serial / work with a bootstrap interval (stats.ratio_ci). A rule then turns the
table into one recommendation with its reason. Backends that cannot run the function (a
lambda that pickle refuses, a backend that fails) are reported and skipped; the rest are
still measured, and `on_update` sees every finished row, so nothing measured is lost.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from coresweep.analysis.stats import ratio_ci, summarize
from coresweep.analysis.verdicts import THRESHOLD
from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import chain_init
from coresweep.kernels.user import (
    UserKernelError,
    UserSpec,
    call_batch,
    call_task,
    check_results,
    make_user_tasks,
    noop,
    pickle_problem,
    pickler_for,
    resolve,
    unpicklable_backends,
    warm,
)
from coresweep.measure.guard import limit_inner_pools
from coresweep.measure.memory import MIB, TreeMemorySampler, scan_tree
from coresweep.measure.sampling import ArmSamples, Protocol, sample_arms
from coresweep.measure.timer import timed

DEFAULT_BACKENDS = (
    "threads",
    "processes-fork",
    "processes-forkserver",
    "processes-spawn",
    "dask-threads",
    "dask-processes",
)
#: rough start-up seconds, only to keep the sweep inside its budget
START_GUESS_S = {"processes-forkserver": 1.0, "processes-spawn": 1.5, "dask-processes": 3.0}
PASS_SECONDS = 0.3  # when advise chooses ntasks, one serial pass lasts about this long
MAX_TASKS = 5000
OVERHEAD_SHARE = 0.1  # a recommended batch spends at most this share of its time on dispatch
MEMORY_HZ = 2.0  # a slow scan rate: scanning /proc steals CPU from the workers measured
GIL_HOLDS = 0.15  # threads gained < 15% of the ideal extra speed: the GIL serialises them
GIL_RELEASES = 0.5  # threads gained > 50% of it: the function runs without the GIL


class AdviseError(ValueError):
    """Nothing can be measured: the message names the function and the problem."""


@dataclass(frozen=True)
class Options:
    """What to sweep and how long it may take."""

    cores: tuple[int, ...] = (1, 2)
    backends: tuple[str, ...] = DEFAULT_BACKENDS
    budget_seconds: float = 120.0
    ntasks: int | None = None  # None: args as given, or enough factory tasks for PASS_SECONDS
    seed: int = 20261125
    threshold: float = THRESHOLD


@dataclass(frozen=True)
class Estimate:
    """A ratio (speedup) with its 95% bootstrap interval."""

    value: float
    lo: float
    hi: float

    @classmethod
    def ratio(cls, num: Sequence[float], den: Sequence[float]) -> Estimate:
        return cls(*ratio_ci(num, den))

    def gain(self, threshold: float) -> bool:
        """Significantly faster: interval above 1 and more than threshold above it."""
        return self.lo > 1 and self.value > 1 + threshold

    def overlaps(self, other: Estimate) -> bool:
        return self.hi >= other.lo and other.hi >= self.lo

    def text(self) -> str:
        return f"{self.value:.2f}× [{self.lo:.2f}–{self.hi:.2f}]"


@dataclass
class Row:
    """One backend at one core count."""

    backend: str
    p: int
    status: str = "ok"  # ok | check-failed | failed | skipped
    reason: str = ""
    speedup: Estimate | None = None
    batched: Estimate | None = None  # one batch per worker
    batch_size: int = 0
    seconds: float | None = None  # median wall of one pass over all tasks
    serial_seconds: float | None = None  # its paired plain-loop median
    dispatch_s: float | None = None  # per task, from the no-op pass
    start_s: float | None = None
    extra_mib: float | None = None  # peak process-tree PSS above this process before start
    same_as_serial: bool | None = None
    check: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def efficiency(self) -> float | None:
        return None if self.speedup is None else self.speedup.value / self.p

    @property
    def in_process(self) -> bool:
        return not BACKENDS[self.backend].separate_processes


@dataclass(frozen=True)
class Recommendation:
    backend: str  # "serial" or a backend name
    batch_size: int  # 0: one task per dispatch is fine
    headline: str
    reason: str

    def text(self) -> str:
        return f"{self.headline}: {self.reason}"


@dataclass
class Advice:
    """Everything one sweep found; asdict() of it is the JSON for scripts."""

    callable: str
    tasks_from: str
    ntasks: int
    cores: list[int]
    task_seconds: float = float("nan")  # one task in the plain loop (median)
    first_call_s: float = float("nan")  # the first call: imports, JIT compilation
    rows: list[Row] = field(default_factory=list)
    gil: str = ""
    recommendation: Recommendation | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    machine: str = ""
    load_average: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    budget_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for row, out in zip(self.rows, d["rows"], strict=True):
            out["efficiency"] = row.efficiency
        if self.recommendation is not None:
            d["recommendation"]["text"] = self.recommendation.text()
        return d


# ---------------------------------------------------------------- planning


def task_count(spec: UserSpec, opts: Options, one_task_s: float) -> int | None:
    """How many tasks to measure: as asked, the args as given, or enough for PASS_SECONDS."""
    if opts.ntasks is not None or spec.args is not None:
        return opts.ntasks
    step = math.lcm(*opts.cores) if math.lcm(*opts.cores) <= 64 else max(opts.cores)
    n = max(4 * max(opts.cores), math.ceil(PASS_SECONDS / max(one_task_s, 1e-7)))
    return min(MAX_TASKS, math.ceil(n / step) * step)


def first_calls(fn: Callable[..., Any], args: Sequence[Any]) -> tuple[float, float]:
    """Seconds of the first call (imports, JIT) and of a second, warm one."""
    _, first = timed(lambda: fn(*args))
    _, second = timed(lambda: fn(*args))
    return first.wall, second.wall


def plan_tasks(spec: UserSpec, opts: Options) -> tuple[list[tuple[Any, ...]], float]:
    """The tasks to measure and the first call's seconds; errors name the function or factory."""
    fn = resolve(spec.callable, spec.path)
    probe = make_user_tasks(spec, opts.ntasks or (None if spec.args else 1), opts.seed)
    try:
        first_s, warm_s = first_calls(fn, probe[0])
    except Exception as exc:
        raise AdviseError(
            f"{spec.callable} raised {type(exc).__name__}: {exc} on its first task "
            f"(args {probe[0]!r}); nothing measured"
        ) from exc
    n = task_count(spec, opts, warm_s)
    tasks = probe if n == len(probe) else make_user_tasks(spec, n, opts.seed)
    return tasks, first_s


def batches(tasks: Sequence[Any], p: int) -> list[list[Any]]:
    """One contiguous batch per worker."""
    size = math.ceil(len(tasks) / p)
    return [list(tasks[i : i + size]) for i in range(0, len(tasks), size)]


def skip_reasons(spec: UserSpec, tasks: Sequence[Any], backends: Sequence[str]) -> dict[str, str]:
    """Backends that cannot run this function or its arguments at all, with why."""
    out = unpicklable_backends(spec, backends)
    for b in backends:
        if b not in BACKENDS:
            out[b] = f"unknown backend; known: {', '.join(sorted(BACKENDS))}"
        elif BACKENDS[b].batch:
            out[b] = "needs a Numba prange batch version of the function; a user function has none"
        elif b not in out and BACKENDS[b].separate_processes:
            problem = pickle_problem(tasks[0], pickler_for(b))
            if problem:
                out[b] = f"the task arguments cannot be pickled by {pickler_for(b)}: {problem}"
    return out


def protocol_for(budget_s: float) -> Protocol:
    """A short protocol: few repeats, stop early on 3% precision or when the budget is spent."""
    return Protocol(
        warmup=1,
        repeats=3,
        max_repeats=10,
        min_sample_seconds=0.05,
        target_rel_halfwidth=0.03,
        point_budget_seconds=max(0.2, budget_s),
    )


# ---------------------------------------------------------------- measuring


def _serial_pass(spec: UserSpec, tasks: Sequence[Any]) -> list[Any]:
    run = functools.partial(call_task, spec.callable, spec.path)
    return [run(a) for a in tasks]


def _flatten(batched: Sequence[Sequence[Any]]) -> list[Any]:
    return [r for batch in batched for r in batch]


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    try:
        return bool(a == b)
    except Exception:  # numpy arrays compare elementwise
        return all(bool((x == y).all()) for x, y in zip(a, b, strict=True))


def measure_serial(
    spec: UserSpec, tasks: Sequence[Any], budget_s: float, seed: int
) -> tuple[Row, list[Any]]:
    """The plain-loop row and its results; AdviseError naming the task when the function raises."""
    try:
        s = sample_arms(
            {"serial": functools.partial(_serial_pass, spec, tasks)}, protocol_for(budget_s), seed
        )["serial"]
    except Exception as exc:
        raise AdviseError(
            f"{spec.callable} raised {type(exc).__name__}: {exc} in the plain loop "
            f"({_failing_task(spec, tasks)}); nothing measured"
        ) from exc
    med = summarize(s.wall).median
    row = Row("serial", 1, speedup=Estimate(1.0, 1.0, 1.0), seconds=med, serial_seconds=med)
    row.samples = {"serial": s.wall}
    row.start_s, row.extra_mib, row.dispatch_s, row.same_as_serial = 0.0, 0.0, 0.0, True
    _apply_check(row, spec, tasks, s.first_output)
    return row, list(s.first_output)


def _failing_task(spec: UserSpec, tasks: Sequence[Any]) -> str:
    for i, a in enumerate(tasks):
        try:
            call_task(spec.callable, spec.path, a)
        except Exception:
            return f"task {i}, args {a!r}"
    return "no single task fails on its own"


def _apply_check(row: Row, spec: UserSpec, tasks: Sequence[Any], results: Sequence[Any]) -> None:
    check = check_results(spec, tasks, results)
    row.check = check.detail
    if not check.ok:
        row.status, row.reason = "check-failed", f"results fail the reference check: {check.detail}"


def worker_init(spec: UserSpec, backend: str) -> Callable[[], None]:
    """Worker processes get one BLAS/Numba thread and import the function while starting.

    In-process backends only import: this process already limits BLAS, and starting
    Numba's thread pool here would make later forks unsafe.
    """
    steps = [functools.partial(warm, spec.callable, spec.path)]
    if BACKENDS[backend].separate_processes:
        steps.insert(0, functools.partial(limit_inner_pools, 1))
    return chain_init(*steps)


def measure_backend(
    spec: UserSpec,
    tasks: Sequence[Any],
    reference: Sequence[Any],
    backend: str,
    p: int,
    budget_s: float,
    seed: int,
) -> Row:
    """One backend at p workers; any failure becomes a 'failed' row, never an exception."""
    row = Row(backend, p)
    chunks = batches(tasks, p)
    row.batch_size = len(chunks[0])
    run = functools.partial(call_task, spec.callable, spec.path)
    run_batch = functools.partial(call_batch, spec.callable, spec.path)
    base_pss = scan_tree(os.getpid()).pss
    try:
        with make_backend(backend, p) as be:
            row.start_s = timed(lambda: be.start(worker_init(spec, backend)))[1].wall
            arms = {
                "serial": functools.partial(_serial_pass, spec, tasks),
                "work": functools.partial(be.map, run, tasks),
                "batched": functools.partial(be.map, run_batch, chunks),
                "dispatch": functools.partial(be.map, noop, tasks),
            }
            with TreeMemorySampler(hz=MEMORY_HZ) as mem:
                samples = sample_arms(arms, protocol_for(budget_s), seed)
    except Exception as exc:
        row.status = "failed"
        row.reason = f"{backend} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        return row
    assert mem.trace is not None
    row.extra_mib = mem.trace.peak("pss") - base_pss / MIB
    _summarise(row, samples, len(tasks))
    work_out = list(samples["work"].last_output)
    row.same_as_serial = _same(work_out, reference) and _same(
        _flatten(samples["batched"].last_output), reference
    )
    _apply_check(row, spec, tasks, work_out)
    return row


def _summarise(row: Row, samples: dict[str, ArmSamples], ntasks: int) -> None:
    walls = {name: s.wall for name, s in samples.items()}
    row.samples = walls
    row.speedup = Estimate.ratio(walls["serial"], walls["work"])
    row.batched = Estimate.ratio(walls["serial"], walls["batched"])
    row.seconds = summarize(walls["work"]).median
    row.serial_seconds = summarize(walls["serial"]).median
    row.dispatch_s = summarize(walls["dispatch"]).median / ntasks


# ---------------------------------------------------------------- deciding


def _at(rows: Sequence[Row], p: int, ok_only: bool = True) -> list[Row]:
    return [r for r in rows if r.p == p and (r.status == "ok" or not ok_only) and r.speedup]


def _fmt_s(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def thread_estimate(rows: Sequence[Row], p: int) -> Estimate | None:
    """The thread backend's best speedup at p (batched counts: it removes dispatch cost)."""
    for name in ("threads", "dask-threads"):
        for r in _at(rows, p):
            if r.backend == name:
                return max((e for e in (r.speedup, r.batched) if e), key=lambda e: e.value)
    return None


@dataclass(frozen=True)
class GilFinding:
    """What threads at p showed: releases (True), holds (False) or cannot tell (None)."""

    p: int
    est: Estimate | None
    releases: bool | None
    partly: bool = False

    @classmethod
    def from_rows(cls, rows: Sequence[Row]) -> GilFinding:
        ps = [r.p for r in rows if r.p > 1 and r.in_process and r.status == "ok"]
        if not ps:
            return cls(1, None, None)
        p = max(ps)
        est = thread_estimate(rows, p)
        assert est is not None
        ideal = p - 1
        if est.hi < 1 + GIL_HOLDS * ideal:
            return cls(p, est, False)
        if est.lo > 1 + GIL_RELEASES * ideal:
            return cls(p, est, True)
        if est.lo > 1 + GIL_HOLDS * ideal:
            return cls(p, est, True, partly=True)
        return cls(p, est, None)

    def phrase(self) -> str:
        if self.est is None:
            return "was not run in threads at p >= 2"
        if self.releases is None:
            return "may or may not release the GIL"
        if not self.releases:
            return "holds the GIL"
        return "releases the GIL only in part" if self.partly else "releases the GIL"

    def evidence(self) -> str:
        return f"{self.p} threads ran {self.est.text()}" if self.est else "no thread runs"


def gil_verdict(rows: Sequence[Row], note: bool | None) -> str:
    """What the thread runs show about the GIL, and whether the user's note agrees."""
    g = GilFinding.from_rows(rows)
    text = f"your function {g.phrase()} ({g.evidence()} against a plain loop)"
    if note is not None and g.releases is not None:
        agree = "agree" if note == g.releases else "disagree"
        text += f"; you noted releases_gil: {str(note).lower()}, the runs {agree}"
    return text


@dataclass(frozen=True)
class _Variant:
    row: Row
    batched: bool
    est: Estimate

    def cost(self) -> tuple[bool, bool, float]:
        # shared memory first, then no batching needed, then the cheaper start
        return (not self.row.in_process, self.batched, self.row.start_s or 0.0)


def batch_advice(task_s: float, dispatch_s: float) -> int:
    """Smallest batch that spends at most OVERHEAD_SHARE of its time on dispatch."""
    if task_s <= 0:
        return 1
    return max(2, math.ceil((1 - OVERHEAD_SHARE) / OVERHEAD_SHARE * dispatch_s / task_s))


def recommend(rows: Sequence[Row], task_s: float, threshold: float = THRESHOLD) -> Recommendation:
    """The cheapest way to run that is as fast as the fastest, at the most cores measured."""
    pmax = max((r.p for r in rows), default=1)
    if pmax < 2:
        return Recommendation(
            "serial", 0, "serial", "only 1 core was measured; workers cannot beat a plain loop"
        )
    top = _at(rows, pmax)
    variants = [_Variant(r, False, r.speedup) for r in top if r.speedup] + [
        _Variant(r, True, r.batched) for r in top if r.batched
    ]
    good = [v for v in variants if v.est.gain(threshold)]
    if not good:
        return _serial_advice(top, variants, task_s, pmax)
    best = max(good, key=lambda v: v.est.value)
    pick = min((v for v in good if v.est.overlaps(best.est)), key=_Variant.cost)
    return _advice_for(pick, top, task_s, pmax)


def _serial_advice(
    top: list[Row], variants: list[_Variant], task_s: float, pmax: int
) -> Recommendation:
    if not variants:
        return Recommendation("serial", 0, "serial", f"no backend ran correctly at p={pmax}")
    best = max(variants, key=lambda v: v.est.value)
    what = f"{best.row.backend}{' in batches' if best.batched else ''}"
    costs = " / ".join(
        f"{_fmt_s(r.dispatch_s)} ({r.backend})" for r in _cheapest_dispatch(top).values()
    )
    return Recommendation(
        "serial",
        0,
        "serial",
        f"nothing ran significantly faster than a plain loop on {pmax} cores "
        f"(best: {what} {best.est.text()}); each task takes {_fmt_s(task_s)}"
        + (f" and dispatch costs {costs} per task" if costs else ""),
    )


def _cheapest_dispatch(top: Sequence[Row]) -> dict[bool, Row]:
    """The in-process and the separate-process row with the lowest dispatch cost."""
    out: dict[bool, Row] = {}
    for r in sorted((r for r in top if r.dispatch_s is not None), key=lambda r: r.dispatch_s or 0):
        out.setdefault(r.in_process, r)
    return out


def _extras(row: Row) -> str:
    mem = f"{row.extra_mib:.0f} MiB" if row.extra_mib is not None else "unknown"
    return f"starts in {_fmt_s(row.start_s)}, {mem} extra memory"


def _advice_for(pick: _Variant, top: list[Row], task_s: float, pmax: int) -> Recommendation:
    row = pick.row
    size = batch_advice(task_s, row.dispatch_s or 0.0) if pick.batched else 0
    headline = row.backend + (f", in batches of ≥ {size} tasks" if size else "")
    gil = GilFinding.from_rows(top)
    unbatched = row.speedup.text() if row.speedup else "–"
    if pick.batched:
        reason = (
            f"each task takes {_fmt_s(task_s)} and {row.backend} dispatch costs "
            f"{_fmt_s(row.dispatch_s)} per task; one task at a time ran {unbatched}, "
            f"one batch of {row.batch_size} per worker ran {pick.est.text()} on {pmax} cores"
        )
    elif row.in_process:
        reason = (
            f"your function {gil.phrase()} ({pmax} {row.backend} workers ran {pick.est.text()})"
        )
    else:
        reason = (
            f"your function {gil.phrase()} ({gil.evidence()}); "
            f"{pmax} {row.backend} workers ran {pick.est.text()}"
        )
    others = [r for r in top if r.in_process != row.in_process and r.speedup is not None]
    if others and not pick.batched:
        alt = max(others, key=lambda r: r.speedup.value if r.speedup else 0.0)
        kind = "processes" if row.in_process else "threads"
        alt_s = alt.speedup.text() if alt.speedup else "–"
        reason += f"; {kind} were no faster ({alt.backend} {alt_s}, {_extras(alt)})"
    if not row.in_process:
        reason += f"; the pool {_extras(row)}"
    return Recommendation(row.backend, size, headline, reason)


# ---------------------------------------------------------------- the sweep


def _budget_left(deadline: float, jobs: Sequence[tuple[str, int]]) -> float:
    starts = sum(START_GUESS_S.get(b, 0.2) for b, _ in jobs)
    return max(0.0, (deadline - time.monotonic() - starts) / max(1, len(jobs)))


def advise(
    spec: UserSpec, opts: Options = Options(), on_update: Callable[[Advice], None] | None = None
) -> Advice:
    """Measure spec's function on every backend and core count; recommend one."""
    from threadpoolctl import threadpool_limits

    from coresweep.measure.provenance import collect, machine_label

    t0 = time.monotonic()
    deadline = t0 + opts.budget_seconds
    with threadpool_limits(limits=1, user_api="blas"):
        resolve(spec.callable, spec.path)  # UserKernelError when it cannot be imported
        tasks, first_s = plan_tasks(spec, opts)
        advice = Advice(
            callable=spec.callable,
            tasks_from=spec.tasks or f"args ({len(spec.args or ())} sets)",
            ntasks=len(tasks),
            cores=list(opts.cores),
            first_call_s=first_s,
            machine=machine_label(collect()),
            load_average=list(os.getloadavg()),
            budget_seconds=opts.budget_seconds,
        )
        _note_task_count(advice, opts)
        jobs = [(b, p) for b in opts.backends for p in opts.cores]
        serial, reference = measure_serial(spec, tasks, _budget_left(deadline, jobs) / 2, opts.seed)
        advice.rows.append(serial)
        advice.task_seconds = (serial.seconds or 0.0) / len(tasks)
        if serial.status != "ok":
            advice.problems.append(f"serial: {serial.reason}")
        skip = skip_reasons(spec, tasks, opts.backends)
        for b, reason in skip.items():
            advice.notes.append(f"{b} not measured: {reason}")
        _update(advice, t0, on_update)
        for i, (b, p) in enumerate(jobs):
            if b in skip:
                advice.rows.append(Row(b, p, status="skipped", reason=skip[b]))
                continue
            row = measure_backend(
                spec, tasks, reference, b, p, _budget_left(deadline, jobs[i:]), opts.seed
            )
            advice.rows.append(row)
            if row.status in ("failed", "check-failed"):
                advice.problems.append(f"{b} p={p}: {row.reason}")
            _update(advice, t0, on_update)
    advice.gil = gil_verdict(advice.rows, spec.releases_gil)
    advice.recommendation = recommend(advice.rows, advice.task_seconds, opts.threshold)
    if time.monotonic() > deadline:
        advice.notes.append(
            f"the sweep took {time.monotonic() - t0:.0f} s, over its {opts.budget_seconds:.0f} s "
            "budget: make tasks shorter (size) or pass fewer --args"
        )
    _update(advice, t0, on_update)
    return advice


def _note_task_count(advice: Advice, opts: Options) -> None:
    pmax = max(opts.cores)
    if advice.ntasks < pmax:
        advice.notes.append(
            f"only {advice.ntasks} task(s) for {pmax} workers: at most {advice.ntasks} can run at "
            "once; pass --ntasks or more --args"
        )


def _update(advice: Advice, t0: float, on_update: Callable[[Advice], None] | None) -> None:
    advice.elapsed_s = time.monotonic() - t0
    if on_update is not None:
        on_update(advice)


# ---------------------------------------------------------------- the printed report


def format_advice(advice: Advice) -> str:
    """The table per core count, notes, problems and the recommendation, as plain text."""
    lines = [
        f"{advice.callable} on {advice.machine}: {advice.ntasks} tasks from {advice.tasks_from}, "
        f"{_fmt_s(advice.task_seconds)} per task in a plain loop "
        f"(first call {_fmt_s(advice.first_call_s)}); load average at start "
        + "/".join(f"{x:.1f}" for x in advice.load_average)
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
)


def _cells(r: Row) -> tuple[str, ...]:
    if r.status in ("skipped", "failed"):
        return (r.backend, f"{r.status}: {r.reason}")
    mark = " (check failed)" if r.status == "check-failed" else ""
    return (
        r.backend,
        (r.speedup.text() if r.speedup else "–") + mark,
        f"{r.efficiency:.2f}" if r.efficiency is not None else "–",
        f"{r.batched.text()} ({r.batch_size})" if r.batched else "–",
        _fmt_s(r.dispatch_s) if r.backend != "serial" else "–",
        f"{r.extra_mib:+.0f} MiB" if r.extra_mib is not None else "–",
        _fmt_s(r.start_s) if r.backend != "serial" else "–",
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
    return "\n".join(out)


# ---------------------------------------------------------------- the command


def spec_from_args(args: Any) -> UserSpec:
    """A UserSpec from `coresweep advise` arguments; bad JSON or spec is an AdviseError."""
    from coresweep.kernels.user import parse_spec

    arg_sets = None
    if args.args is not None:
        try:
            arg_sets = json.loads(args.args)
        except json.JSONDecodeError as exc:
            raise AdviseError(f"--args is not valid JSON ({exc}): {args.args!r}") from None
        if not isinstance(arg_sets, list) or not arg_sets:
            raise AdviseError(
                f"--args must be a non-empty JSON list of argument lists, got {args.args!r}"
            )
    note = {"true": True, "false": False, None: None}[args.releases_gil]
    raw = {
        "callable": args.callable,
        "tasks": args.tasks,
        "args": arg_sets,
        "check": args.check,
        "releases_gil": note,
        "path": args.path or ["."],
    }
    return parse_spec("advise", raw)


def options_from_args(args: Any) -> Options:
    """Options from `coresweep advise` arguments; core counts checked like a config's."""
    from coresweep.experiments.common import core_counts
    from coresweep.measure.cores import usable_cores

    usable = usable_cores()
    spec = "auto" if args.cores == "auto" else [int(c) for c in args.cores.split(",") if c]
    cores = core_counts(spec, {"oversubscribe": args.oversubscribe}, usable, "--cores")
    backends = (
        tuple(b for b in args.backends.split(",") if b) if args.backends else DEFAULT_BACKENDS
    )
    return Options(
        cores=tuple(cores),
        backends=backends,
        budget_seconds=args.budget_seconds,
        ntasks=args.ntasks,
        seed=args.seed,
    )


def run_command(args: Any) -> int:
    """`coresweep advise`: 0 advice given, 1 given but a backend failed or a check failed."""
    from coresweep.measure.cleanup import reaped_on_exit
    from coresweep.records import write_json_atomic

    def save(obj: dict[str, Any]) -> None:
        if args.json:
            write_json_atomic(args.json, obj)

    try:
        spec = spec_from_args(args)
        opts = options_from_args(args)
        with reaped_on_exit():
            advice = advise(spec, opts, on_update=lambda a: save(a.to_dict()))
    except ValueError as exc:  # AdviseError, UserKernelError, ConfigError: nothing to advise
        save({"callable": args.callable, "error": str(exc)})
        raise
    print(format_advice(advice))
    return 1 if advice.problems else 0


__all__ = ["AdviseError", "Advice", "Options", "UserKernelError", "advise", "format_advice"]
