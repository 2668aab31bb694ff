"""The measuring side of `coresweep advise`: a user's function under every execution model.

One quick sweep on this machine. A plain loop over the tasks is the baseline; then every
backend at every core count is sampled with four interleaved arms, so load from other
programs hits both sides of a ratio alike:

- serial:   the plain loop again, in this process (the paired baseline)
- work:     the backend maps the function over the tasks, one task per dispatch
- batched:  the same tasks in one batch per worker (what batching buys)
- dispatch: a no-op over the same task arguments (what sending one task costs)

Speedup = serial / work with a bootstrap interval (stats.ratio_ci). The rows are the
records of coresweep.advice_records; the advice rule (coresweep.analysis.advice) turns them
into a recommendation, which the command (coresweep.advise) asks for through `conclude`.
Backends that cannot run the function (a lambda that pickle refuses, a backend that fails)
are reported and skipped; the rest are still measured, and `on_update` sees every finished
row, so nothing measured is lost.

Which backends to measure, how they ship the function and how long they take to start
come from their descriptors in the registry: a newly registered backend is measured with
no change here.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from coresweep.advice_records import Advice, Estimate, Row
from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import Descriptor, chain_init
from coresweep.config_model import MEDIAN_SAMPLES, ProtocolSection, defaults
from coresweep.costs import start_seconds, stop_seconds
from coresweep.kernels.user import (
    UserSpec,
    call_batch,
    call_task,
    check_results,
    fixed_tasks,
    make_user_tasks,
    noop,
    pickle_problem,
    resolve,
    unpicklable,
    warm,
)
from coresweep.measure.capacity import CpuLedger, others_share
from coresweep.measure.inner_pools import limit_inner_pools
from coresweep.measure.memory import MIB, TreeMemorySampler, scan_tree
from coresweep.measure.sampling import ArmSamples, Protocol, sample_arms
from coresweep.measure.timer import timed
from coresweep.stats import summarize


def measured_by_default(d: Descriptor) -> bool:
    """Workers on this machine that take one task per call.

    Not the inline loop (it is the baseline, measured anyway), not a batch backend (a user
    function has no prange version), not a cluster (it needs a scheduler set up first).
    """
    return d.isolation in ("thread", "interpreter", "process") and not d.batch


#: ... of those this interpreter can run (subinterpreters need 3.13+)
DEFAULT_BACKENDS = tuple(
    n for n, b in BACKENDS.items() if measured_by_default(b.descriptor) and not b.unavailable()
)
#: the plain loop every speedup is measured against: the registry's inline backend
BASELINE = next(n for n, b in BACKENDS.items() if b.descriptor.isolation == "inline")
PLAN_SHARE = 0.85  # the sweep plans to end by this share of --budget-seconds
PASS_SECONDS = 0.3  # when advise chooses ntasks, one serial pass lasts about this long
MAX_TASKS = 256  # Dask dispatch costs ~1-5 ms per task: more tasks would blow the budget
BATCH_WORTH = 0.02  # batching is measured when dispatch is over 2% of the serial work
MEMORY_HZ = 2.0  # a slow scan rate: scanning /proc steals CPU from the workers measured


OUT_OF_TIME = "the time budget ran out (--budget-seconds)"


class AdviseError(ValueError):
    """Nothing can be measured: the message names the function and the problem."""


@dataclass(frozen=True)
class Options:
    """What to sweep and how long it may take."""

    cores: tuple[int, ...] = (1, 2)
    backends: tuple[str, ...] = DEFAULT_BACKENDS
    budget_seconds: float = 120.0
    ntasks: int | None = None  # None: a fixed list as given, or enough tasks for PASS_SECONDS
    seed: int = defaults()["seed"]  # the config's seed
    threshold: float = ProtocolSection().difference_threshold  # the claims' bar
    max_repeats: int = 10  # samples per arm at most; the budget usually stops sooner


# ---------------------------------------------------------------- planning


def task_count(spec: UserSpec, opts: Options, one_task_s: float) -> int | None:
    """How many tasks to measure: as asked, a fixed list as given (None), or enough for
    PASS_SECONDS."""
    if opts.ntasks is not None or fixed_tasks(spec):
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
    fixed = fixed_tasks(spec)  # args, or a factory without parameters: its list as given
    probe = make_user_tasks(spec, opts.ntasks or (None if fixed else 1), opts.seed)
    try:
        first_s, warm_s = first_calls(fn, probe[0])
    except Exception as exc:
        raise AdviseError(
            f"{spec.callable} raised {type(exc).__name__}: {exc} on its first task "
            f"(args {probe[0]!r}); nothing measured"
        ) from exc
    n = task_count(spec, opts, warm_s)
    tasks = probe if n is None or n == len(probe) else make_user_tasks(spec, n, opts.seed)
    return tasks, first_s


def batches(tasks: Sequence[Any], p: int) -> list[list[Any]]:
    """One contiguous batch per worker."""
    size = math.ceil(len(tasks) / p)
    return [list(tasks[i : i + size]) for i in range(0, len(tasks), size)]


def skip_reasons(spec: UserSpec, tasks: Sequence[Any], backends: Sequence[str]) -> dict[str, str]:
    """Backends that cannot run this function or its arguments at all, with why: each ships
    them with its descriptor's pickler."""
    out = {}
    for b in backends:
        if b not in BACKENDS:
            out[b] = f"unknown backend; known: {', '.join(sorted(BACKENDS))}"
            continue
        d = BACKENDS[b].descriptor
        if d.batch:
            out[b] = "needs a Numba prange batch version of the function; a user function has none"
        elif problem := unpicklable(spec, d.pickler):
            out[b] = (
                f"{spec.callable} cannot be pickled by {d.pickler} (a lambda or a closure?), "
                f"so {b} cannot send it to its worker processes: {problem}"
            )
        elif problem := pickle_problem(tasks[0], d.pickler):
            out[b] = f"the task arguments cannot be pickled by {d.pickler}: {problem}"
    return out


def new_row(backend: str, p: int, **fields: Any) -> Row:
    """A Row that carries its backend's descriptor columns (none for an unknown name)."""
    cls = BACKENDS.get(backend)
    return Row(backend, p, descriptor=cls.descriptor.columns() if cls else {}, **fields)


def protocol_for(budget_s: float, max_repeats: int = 10) -> Protocol:
    """A short protocol: the 6 samples a median's 95% interval needs (fewer only when
    max_repeats says so), then stop on 3% precision or when the budget is spent."""
    return Protocol(
        warmup=1,
        repeats=min(MEDIAN_SAMPLES, max_repeats),
        max_repeats=max_repeats,
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
    spec: UserSpec, tasks: Sequence[Any], protocol: Protocol, seed: int
) -> tuple[Row, list[Any]]:
    """The plain-loop row and its results; AdviseError naming the task when the function raises."""
    cpu0 = CpuLedger.now()
    try:
        s = sample_arms({"serial": functools.partial(_serial_pass, spec, tasks)}, protocol, seed)[
            "serial"
        ]
    except Exception as exc:
        raise AdviseError(
            f"{spec.callable} raised {type(exc).__name__}: {exc} in the plain loop "
            f"({_failing_task(spec, tasks)}); nothing measured"
        ) from exc
    med = summarize(s.wall).median
    row = new_row(BASELINE, 1, speedup=Estimate(1.0, 1.0, 1.0), seconds=med, serial_seconds=med)
    row.samples = {"serial": s.wall}
    row.others_cpu_share = others_share(cpu0)
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
    if BACKENDS[backend].descriptor.separate_processes:
        steps.insert(0, functools.partial(limit_inner_pools, 1))
    return chain_init(*steps)


@dataclass(frozen=True)
class Baseline:
    """The tasks, the plain loop's results and its median seconds per pass."""

    tasks: list[Any]
    reference: list[Any]
    serial_s: float


def measure_backend(
    spec: UserSpec, base: Baseline, backend: str, p: int, protocol: Protocol, seed: int
) -> Row:
    """One backend at p workers; any failure becomes a 'failed' row, never an exception."""
    row = new_row(backend, p)
    tasks, reference = base.tasks, base.reference
    chunks = batches(tasks, p)
    run = functools.partial(call_task, spec.callable, spec.path)
    base_pss = scan_tree(os.getpid()).pss
    try:
        with make_backend(backend, p) as be:
            row.start_s = timed(lambda: be.start(worker_init(spec, backend)))[1].wall
            arms = {
                "serial": functools.partial(_serial_pass, spec, tasks),
                "work": functools.partial(be.map, run, tasks),
                "dispatch": functools.partial(be.map, noop, tasks),
            }
            if p > 1 and _batching_may_help(be, tasks, base.serial_s):
                row.batch_size = len(chunks[0])
                run_batch = functools.partial(call_batch, spec.callable, spec.path)
                arms["batched"] = functools.partial(be.map, run_batch, chunks)
            cpu0 = CpuLedger.now()  # workers are up: their CPU time counts as ours
            with TreeMemorySampler(hz=MEMORY_HZ) as mem:
                samples = sample_arms(arms, protocol, seed)
            row.others_cpu_share = others_share(cpu0)
    except Exception as exc:
        row.status = "failed"
        row.reason = f"{backend} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        return row
    assert mem.trace is not None
    row.extra_mib = mem.trace.peak("pss") - base_pss / MIB
    _summarise(row, samples, len(tasks))
    work_out = list(samples["work"].last_output)
    row.same_as_serial = _same(work_out, reference)
    if "batched" in samples:
        row.same_as_serial &= _same(_flatten(samples["batched"].last_output), reference)
    _apply_check(row, spec, tasks, work_out)
    return row


def _batching_may_help(be: Any, tasks: Sequence[Any], serial_s: float) -> bool:
    """One no-op pass: batching is worth measuring only when dispatch is not negligible."""
    return timed(lambda: be.map(noop, tasks))[1].wall > BATCH_WORTH * serial_s


def _summarise(row: Row, samples: dict[str, ArmSamples], ntasks: int) -> None:
    walls = {name: s.wall for name, s in samples.items()}
    row.samples = walls
    row.speedup = Estimate.ratio(walls["serial"], walls["work"])
    if "batched" in walls:
        row.batched = Estimate.ratio(walls["serial"], walls["batched"])
    row.seconds = summarize(walls["work"]).median
    row.serial_seconds = summarize(walls["serial"]).median
    row.dispatch_s = summarize(walls["dispatch"]).median / ntasks


# ---------------------------------------------------------------- the sweep


def start_guess_s(backend: str, workers: int) -> float:
    """Seconds to start and stop this backend's pool of `workers` (one per core), from the one
    cost model (coresweep.costs), only to keep the sweep inside its budget (0 if unknown)."""
    if backend not in BACKENDS:
        return 0.0
    d = BACKENDS[backend].descriptor
    return start_seconds(d, workers, workers) + stop_seconds(d)


def _budget_left(deadline: float, jobs: Sequence[tuple[str, int]]) -> float:
    starts = sum(start_guess_s(b, p) for b, p in jobs)
    return max(0.0, (deadline - time.monotonic() - starts) / max(1, len(jobs)))


def sweep(
    spec: UserSpec,
    opts: Options,
    conclude: Callable[[Advice, bool], None],
    on_update: Callable[[Advice], None] | None = None,
) -> Advice:
    """Measure spec's function on every backend and core count; `conclude` (the advice rule)
    then gets the advice and whether the sweep overran its budget."""
    from threadpoolctl import threadpool_limits

    t0 = time.monotonic()
    # plan to finish early: the last job may overrun its share, and the command still has
    # to import and shut down inside the budget
    deadline = t0 + PLAN_SHARE * opts.budget_seconds
    # the most cores first: the recommendation rests on them, should the budget run out
    jobs = [(b, p) for p in sorted(opts.cores, reverse=True) for b in opts.backends]
    with threadpool_limits(limits=1, user_api="blas"):  # the backend, not BLAS, parallelises
        advice, base = _baseline(spec, opts, _budget_left(deadline, jobs) / 2)
        _update(advice, t0, on_update)
        skip = skip_reasons(spec, base.tasks, opts.backends)
        advice.notes += [f"{b} not measured: {why}" for b, why in skip.items()]
        for i, (b, p) in enumerate(jobs):
            if b in skip or time.monotonic() > deadline:
                advice.rows.append(new_row(b, p, status="skipped", reason=skip.get(b, OUT_OF_TIME)))
                continue
            protocol = protocol_for(_budget_left(deadline, jobs[i:]), opts.max_repeats)
            row = measure_backend(spec, base, b, p, protocol, opts.seed)
            advice.rows.append(row)
            if row.status in ("failed", "check-failed"):
                advice.problems.append(f"{b} p={p}: {row.reason}")
            _update(advice, t0, on_update)
    conclude(advice, time.monotonic() > t0 + opts.budget_seconds)
    _update(advice, t0, on_update)
    return advice


def _baseline(spec: UserSpec, opts: Options, budget_s: float) -> tuple[Advice, Baseline]:
    """Import, plan the tasks, measure the plain loop: everything the backends compare with."""
    resolve(spec.callable, spec.path)  # UserKernelError when it cannot be imported
    tasks, first_s = plan_tasks(spec, opts)
    advice = Advice(
        callable=spec.callable,
        tasks_from=spec.tasks or f"args ({len(spec.args or ())} sets)",
        ntasks=len(tasks),
        cores=list(opts.cores),
        first_call_s=first_s,
        machine=machine(),
        load_average=list(os.getloadavg()),
        budget_seconds=opts.budget_seconds,
    )
    _note_task_count(advice, opts)
    protocol = protocol_for(budget_s, opts.max_repeats)
    serial, reference = measure_serial(spec, tasks, protocol, opts.seed)
    advice.rows.append(serial)
    advice.task_seconds = (serial.seconds or 0.0) / len(tasks)
    if serial.status != "ok":
        advice.problems.append(f"serial: {serial.reason}")
    return advice, Baseline(list(tasks), reference, serial.seconds or 0.0)


def machine() -> str:
    """Host, CPU model and usable cores (the provenance label, without the slow parts)."""
    import socket

    from coresweep.measure.cores import usable_cores
    from coresweep.measure.provenance import cpu_model
    from coresweep.records import machine_label

    info = {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "usable_cores": usable_cores(),
    }
    return machine_label({"machine": info})


def _note_task_count(advice: Advice, opts: Options) -> None:
    pmax = max(opts.cores)
    if advice.ntasks < pmax:
        advice.notes.append(
            f"only {advice.ntasks} task(s) for {pmax} workers: at most {advice.ntasks} can run at "
            "once; pass --ntasks, or more --args or a longer list from your factory"
        )


def _update(advice: Advice, t0: float, on_update: Callable[[Advice], None] | None) -> None:
    advice.elapsed_s = time.monotonic() - t0
    if on_update is not None:
        on_update(advice)
