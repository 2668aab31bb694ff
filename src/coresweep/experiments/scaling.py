"""Strong and weak scaling of every kernel under every backend (claims C1, C2, C11).

One job per backend measures its points, kernel after kernel and p = 1 .. P for each, one
after another (one process start, import and provenance per backend, not per curve); at each
p the strong and weak workloads and a serial baseline (the kernel in a plain loop in the
job's own process) are sampled round by round.
Every speedup is the median over rounds of baseline / parallel time from the same round,
so a change of the machine's speed between or during jobs cancels out. Start-up and
Numba compilation are timed apart from the samples.

Strong scaling holds the total work fixed and balanced: the same number of tasks for every
worker at every p of the sweep (a multiple of every p), each task sized so that one strong
sample at p = 1 stays within `strong_sample_seconds` on a nominal core. Planning is
deterministic (declared kernel rates, no timing), so a dry run on a login node plans the
points the compute node measures. Each point carries its predicted seconds and the peak
memory of its process tree (`estimates.tree_memory_bytes`), which is checked against the node.

The memory-bound kernel (kind "memory", the triad) follows STREAM's rule instead of the time
budget: each array is at least 4x the last-level cache the point's cores reach (read from
sysfs, `coresweep.measure.cache`). Strong scaling keeps ONE fixed total array, >= 4x the LLC
of the largest p's cores, split into chunks across tasks and workers, so its footprint does
not grow with p; weak scaling gives each worker >= 4x the LLC one core reaches. A sample
takes 1/samples_per_sweep of the chunks, the next ones round robin, so (with one workload per
process, the default) no chunk comes round again before all the others were swept. The in-job serial baseline sweeps the strong
workload's chunks in the job's own process: it is the
single-thread reference every rate is shown against (`triad_reference_gbs`,
`bandwidth_fraction`). A size below the rule is refused, unless `allow_in_cache` says so,
and then every row is flagged `in-cache`.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep.backends import BACKENDS, make_backend, select
from coresweep.backends.base import chain_init
from coresweep.config import ConfigError
from coresweep.costs import dispatch_seconds, start_seconds, stop_seconds
from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import (
    NUMBA_COMPILE_SECONDS,
    RUNNER_SECONDS,
    mem_mb,
    sampling_seconds,
    tree_memory_bytes,
)
from coresweep.experiments.row_flags import job_flags, oversubscribed
from coresweep.experiments.rows import arm_fields, kernel_params, point_id, row_tail
from coresweep.experiments.validation import (
    backend_names,
    check_dask_cluster,
    check_memory,
    check_pinning,
    configure_dask_cluster,
    core_counts,
    kernel_size,
)
from coresweep.flags import Flag
from coresweep.kernels import Kernel, get_kernel, kernels_from
from coresweep.kernels.stream import PERIOD, held_elements, release
from coresweep.kernels.user import runs_on
from coresweep.measure import cache
from coresweep.measure.cores import Node, affinity
from coresweep.measure.inner_pools import inner_pools, limit_inner_pools
from coresweep.measure.sampling import Protocol, sample_arms
from coresweep.measure.timer import timed
from coresweep.records import OPTIONAL, Point, params_of, stable_hash
from coresweep.stats import median_ci, stability_flags, summarize

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "scaling"
BASELINE = "serial-baseline"  # the in-job serial arm


def applicable(kernel: Kernel, backend: str) -> bool:
    """A batch backend needs the kernel's prange version; serial only makes sense alone."""
    descriptor = BACKENDS[backend].descriptor
    batch_ok = not descriptor.batch or kernel.run_parallel is not None
    # a user kernel may not ship through the backend's pickler; a subinterpreter cannot
    # load a kernel that does not declare it can (NumPy, Numba)
    return batch_ok and runs_on(kernel, descriptor.pickler, backend, descriptor.isolation)


#: auto strong-scaling task counts above this are refused: tasks become too short to time
#: (explicit p lists whose least common multiple explodes, e.g. 1..12, or an odd-sized node)
MAX_STRONG_TASKS = 4096
#: predicted seconds of one task of a kernel that declares no nominal rate (user kernels)
UNKNOWN_TASK_SECONDS = 0.01


@dataclass(frozen=True)
class Params:
    """A scaling point: one kernel on one backend at p workers, its workloads by mode
    (`workload`: {"size", "ntasks", "slots"}), the in-job serial baseline's, and what
    measure() needs besides."""

    kernel: str
    backend: str
    p: int
    modes: dict[str, dict[str, int]]
    baseline: dict[str, int]
    seed: int
    protocol: dict[str, Any]
    #: a user kernel's spec, so a fresh process rebuilds it (kernel_params)
    user_kernels: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    #: the memory-bound kernel's cache facts and held bytes (ArrayPlan, held_bytes)
    arrays: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    #: more workers than the node's usable cores (only ever True)
    oversubscribed: bool | None = field(default=None, metadata=OPTIONAL)
    dask_cluster: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)


def strong_tasks(cfg: dict[str, Any], ps: Sequence[int], key: str) -> int:
    """Tasks of the fixed total work: every worker gets the same number at every p.

    Explicit (`strong_tasks`): refused when some p would leave workers idle or uneven.
    Automatic (null): the smallest multiple of lcm(ps) that gives every worker at least
    `strong_tasks_per_worker` tasks at the largest p (4 x pmax when the ps are powers of 2).
    """
    lcm = math.lcm(*ps)
    explicit = cfg.get("strong_tasks")
    if explicit is not None:
        n = int(explicit)
        idle = [p for p in ps if n < p]
        uneven = [p for p in ps if n >= p and n % p]
        if idle or uneven:
            bad = idle or uneven
            why = (
                f"leave workers idle at p={', '.join(map(str, bad))} ({n} tasks for {bad[0]} workers)"
                if idle
                else f"are unbalanced at p={', '.join(map(str, bad))} ({n} tasks over {bad[0]} "
                f"workers: {n % bad[0]} get one task more)"
            )
            raise ConfigError(
                f"config key {key}.strong_tasks: {n} tasks {why}; strong scaling needs a "
                f"multiple of every p ({lcm} for p={list(ps)}), or null to choose it"
            )
        return n
    per = int(cfg["strong_tasks_per_worker"])
    n = lcm * math.ceil(per * max(ps) / lcm)
    if n > MAX_STRONG_TASKS:
        raise ConfigError(
            f"config key {key}.p: balanced strong scaling at p={list(ps)} needs a multiple of "
            f"lcm = {lcm} tasks ({n} > {MAX_STRONG_TASKS}, too short to time); list p values "
            "that divide one another (e.g. powers of 2 plus the node's cores) or set cores.max"
        )
    return n


def strong_size(kernel: Kernel, configured: int, ntasks: int, budget: float | None) -> int:
    """The task size: the configured one, or smaller so that the strong work (ntasks tasks)
    takes at most `budget` seconds on one core at the kernel's declared nominal rate.

    Deterministic (no timing at plan time): a dry run on a login node plans the same sizes.
    Unchanged when the budget is null or the kernel declares no rate (user kernels).
    """
    if budget is None or not kernel.rate or configured <= 1:
        return configured
    fits = kernel.rate * budget / ntasks  # units of work per task
    if kernel.work(configured) <= fits:
        return configured
    lo, hi = 1, configured  # largest size in [1, configured] whose work fits (work grows)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if kernel.work(mid) <= fits:
            lo = mid
        else:
            hi = mid - 1
    return lo


#: STREAM's rule: each array at least this many times the last-level cache the cores reach
LLC_MULTIPLE = 4
#: a triad point may hold up to this share of the node's memory: its footprint is its
#: arrays, known exactly (the half of other points leaves room for an estimate's error)
TRIAD_MEMORY_FRACTION = 0.8
#: predicted seconds to build and first-touch one GB of the triad's arrays (start-up)
ALLOC_SECONDS_PER_GB = 3.7


@dataclass(frozen=True)
class ArrayPlan:
    """The memory-bound kernel's arrays for a sweep (elements per array, 8 bytes each).

    Held in chunks, `samples_per_sweep` times as many as the tasks of a sample (which takes
    the next ones, round robin). strong: ONE total of `strong_size` x ntasks x
    samples_per_sweep elements, the same at every p; weak: `weak_size` x
    weak_tasks_per_worker x samples_per_sweep elements per worker. `llc_strong` is the LLC
    the largest p's cores reach, `llc_weak` the one core's view; `in_cache` says the arrays
    are below the rule (allowed only with allow_in_cache)."""

    strong_size: int
    weak_size: int
    llc_strong: int
    llc_weak: int
    in_cache: bool
    llc: dict[str, Any]


def rule_elements(llc_bytes: int) -> int:
    """Elements of one float64 array that meet STREAM's rule for this much cache."""
    return cache.elements_for(LLC_MULTIPLE * llc_bytes)


def _chunk(total: int, ntasks: int, whole_periods: bool) -> int:
    """Elements of one of ntasks chunks covering at least `total`; rounded up to whole
    input periods if asked (the rule's sizes: then no padding between slots)."""
    size = -(-total // ntasks)
    return -(-size // PERIOD) * PERIOD if whole_periods else size


def array_plan(
    cfg: dict[str, Any],
    llc: cache.LastLevelCache,
    ps: Sequence[int],
    ntasks: int,
    key: str,
    kernel: str = "triad",
) -> ArrayPlan:
    """Sizes of a memory-bound kernel's arrays from the cache rule, or the explicit
    `sizes.<kernel>` (elements per array: the strong total, and each weak worker's) checked
    against it."""
    pmax = max(ps)
    per_worker = int(cfg["weak_tasks_per_worker"])
    sweep = int(cfg["samples_per_sweep"])
    allow = bool(cfg["allow_in_cache"])
    given = cfg["sizes"].get(kernel, "auto")
    size_key = f"{key}.sizes.{kernel}"
    if not llc.domains and given == "auto":
        raise ConfigError(
            f"config key {size_key}: the last-level cache is not in sysfs "
            "(/sys/devices/system/cpu/cpu*/cache), so STREAM's rule (each array >= 4x the "
            f"cache) cannot size the arrays; give sizes.{kernel} in elements per array (the "
            "measuring job checks it against its own sysfs and flags rows in-cache)"
        )
    reach_strong = llc.reach_bytes(pmax) if llc.domains else 0
    reach_weak = llc.reach_bytes(1) if llc.domains else 0
    need_strong, need_weak = rule_elements(reach_strong), rule_elements(reach_weak)
    if given == "auto":
        strong_total, weak_total, in_cache = need_strong, need_weak, False
    else:
        n = int(given)
        short = n < max(need_strong, need_weak)  # unknown cache: the measuring job decides
        if short and not allow:
            raise ConfigError(
                f"config key {size_key}: {n} elements per array ({8 * n / 2**20:.0f} MiB) is "
                f"below STREAM's rule at p={pmax}: each array >= {LLC_MULTIPLE}x the "
                f"{reach_strong / 2**20:.0f} MiB last-level cache those cores reach, i.e. >= "
                f"{need_strong} elements ({8 * need_strong / 2**30:.2f} GiB, three arrays "
                f"{24 * need_strong / 2**30:.2f} GiB); use auto, or set "
                f"{key}.allow_in_cache: true to measure in cache (rows flagged in-cache)"
            )
        strong_total, weak_total, in_cache = n, n, short
    return ArrayPlan(
        strong_size=_chunk(strong_total, ntasks * sweep, given == "auto") if ntasks else 0,
        weak_size=_chunk(weak_total, per_worker * sweep, given == "auto"),
        llc_strong=reach_strong,
        llc_weak=reach_weak,
        in_cache=in_cache,
        llc=llc.to_dict(),
    )


def workload(size: int, ntasks: int, sweep: int) -> dict[str, int]:
    """A mode's workload: ntasks tasks of `size` per sample, over `slots` held chunks (a
    memory-bound kernel's samples take the next ntasks of them, round robin). Without
    rotation it is what it was before slots: its params, and so its raw files, stay the same."""
    work = {"size": size, "ntasks": ntasks}
    return work if sweep == 1 else {**work, "slots": ntasks * sweep}


def held_slots(mode: dict[str, Any]) -> int:
    """Chunks a workload holds: its slots (a workload or record from before
    samples_per_sweep: its tasks, every sample swept them all)."""
    return int(mode.get("slots", mode["ntasks"]))


def array_bytes(mode: dict[str, Any]) -> float:
    """Bytes of one of a memory-bound workload's held arrays (float64)."""
    return 8.0 * mode["size"] * held_slots(mode)


def held_bytes(
    descriptor: Any, p: int, modes: dict[str, dict[str, int]], baseline: dict[str, int]
) -> tuple[float, float]:
    """(bytes the job process holds, bytes each worker process holds) for a triad point.

    The job holds the baseline's arrays (the whole strong total: the reference sweep); its
    threads (thread pools, numba-parallel) work on chunks of the same arrays, so the job
    also holds the weak total for them. A worker process holds its own share of the chunks,
    the strong and weak workloads in one set; a cluster's workers hold theirs elsewhere. A
    forked worker reads the job's b and c in place (copy-on-write pages only read) and
    builds only its own a (`kernels.stream.hold`)."""
    job = held_elements(baseline["size"], held_slots(baseline))
    worker = 0
    if descriptor.isolation in ("inline", "thread"):
        job = max([job, *(held_elements(m["size"], held_slots(m)) for m in modes.values())])
    elif descriptor.isolation == "process":
        worker = max(held_elements(m["size"], held_slots(m) // p) for m in modes.values())
    adopts = descriptor.start_method == "fork" and worker <= job  # reads the job's inputs
    built = 8.0 if adopts else 24.0  # bytes per element a worker makes
    return 24.0 * job, built * worker


def predict_seconds(
    kernel: Kernel,
    descriptor: Any,
    p: int,
    modes: dict[str, dict[str, int]],
    baseline: dict[str, int],
    protocol: dict[str, Any],
    usable: int,
    first_in_job: bool,
    held: tuple[float, float] | None = None,
) -> float:
    """Predicted seconds to measure one point (an upper bound unless precision stops early).

    A call of an arm lasts its tasks x the kernel's nominal seconds per task / the cores it
    can use (1 for GIL-bound Python code on threads; at most the usable cores), plus a
    dispatch cost per task; `sampling_seconds` turns the three arms' calls (strong, weak,
    serial baseline) into warm-up + rounds under the protocol. Added: the runner's probes,
    the workers' start and stop, and Numba's compile (first point of a kernel in its job; fresh worker
    interpreters load the cache in parallel at every start), and for the triad the building
    of its arrays (`held`: the job's on the kernel's first point, the workers' at every one).
    """

    def task_s(size: int) -> float:
        return kernel.seconds_per_task(size) or UNKNOWN_TASK_SECONDS

    gil = descriptor.gil_bound and kernel.kind == "python"
    # memory bandwidth need not grow with cores: predict the bound case for a memory kernel
    speed = 1 if gil or kernel.kind == "memory" else min(p, usable)
    dispatch = dispatch_seconds(descriptor)
    calls = [m["ntasks"] * (task_s(m["size"]) / speed + dispatch) for m in modes.values()]
    calls.append(baseline["ntasks"] * task_s(baseline["size"]))
    seconds = sampling_seconds(calls, protocol, decisive=True)
    seconds += RUNNER_SECONDS + start_seconds(descriptor, p, min(p, usable))
    seconds += stop_seconds(descriptor)
    if held is not None:  # building the arrays: the job's on its first point, workers' each
        job_b, worker_b = held
        seconds += ALLOC_SECONDS_PER_GB * (job_b * int(first_in_job) + worker_b) / 1e9
    if kernel.jit:
        fresh = descriptor.isolation == "process" and descriptor.start_method != "fork"
        seconds += NUMBA_COMPILE_SECONDS * (int(first_in_job) + int(fresh))
    return seconds


def kernel_modes(cfg: dict[str, Any], kernel: str, key: str) -> list[str]:
    """The modes a kernel runs: those of `modes` that `kernel_modes.<kernel>` lists (all of
    `modes` for a kernel it does not list); refused when none is left."""
    own = cfg.get("kernel_modes", {}).get(kernel)
    if own is None:
        return list(cfg["modes"])
    kept = [m for m in cfg["modes"] if m in own]
    if not kept:
        raise ConfigError(
            f"config key {key}.kernel_modes.{kernel}: {list(own)} leaves none of {key}.modes "
            f"{list(cfg['modes'])} for {kernel}; list one of them, or drop {kernel} from kernels"
        )
    return kept


def kernel_backends(cfg: dict[str, Any], kernel: str, backends: list[str], key: str) -> list[str]:
    """The backends a kernel runs on: those of `backends` that `kernel_backends.<kernel>`
    lists (all of them for a kernel it does not list); refused when none is left."""
    own = cfg.get("kernel_backends", {}).get(kernel)
    if own is None:
        return backends
    own = backend_names(list(own), f"{key}.kernel_backends.{kernel}")
    kept = [b for b in backends if b in own]
    if not kept:
        raise ConfigError(
            f"config key {key}.kernel_backends.{kernel}: {list(own)} leaves none of "
            f"{key}.backends {backends} for {kernel}; list one of them, or drop {kernel} from "
            "kernels"
        )
    return kept


def points(config: dict[str, Any], node: Node) -> list[Point]:
    """One job per backend holding its points (per kernel p = 1 .. P, measured in that
    order), and one job for the memory-bound kernel on all its backends (its arrays are
    built once)."""
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    kernels = kernels_from(cfg["kernels"], f"{key}.kernels", config.get("user_kernels"))
    backends = backend_names(cfg["backends"], f"{key}.backends")
    ps = core_counts(cfg["p"], config["cores"], node, f"{key}.p")
    cluster = [b for b in backends if BACKENDS[b].descriptor.isolation == "cluster"]
    if cluster:
        check_dask_cluster(config["dask_cluster"])
    ntasks = strong_tasks(cfg, ps, key) if "strong" in cfg["modes"] else 0
    per_worker = cfg["weak_tasks_per_worker"]
    for p in ps:
        check_pinning(config["protocol"], p, f"{key}.p={p}")
    out = []
    for k in kernels:
        kmodes = kernel_modes(cfg, k.name, key)
        strong = "strong" in kmodes
        arrays = None
        if k.kind == "memory":
            llc = cache.for_node(node.kind, node.cores)
            arrays = array_plan(cfg, llc, ps, ntasks, key, k.name)
            size, weak_size = arrays.strong_size, arrays.weak_size
        else:
            configured = kernel_size(k, cfg["sizes"], f"{key}.sizes")
            size = (
                strong_size(k, configured, ntasks, cfg.get("strong_sample_seconds"))
                if strong
                else configured
            )
            weak_size = size
        # a memory-bound kernel's samples rotate through its held chunks; others hold none
        sweep = int(cfg["samples_per_sweep"]) if arrays is not None else 1
        runs_here = [b for b in kernel_backends(cfg, k.name, backends, key) if applicable(k, b)]
        if arrays is not None:
            # the memory-bound kernel is ONE job for all its backends: its arrays (>= 4x the
            # last-level cache each: GBs on a big node) are built and first-touched once per
            # run, not once per backend; batch backends last, because they start Numba's
            # threads in the job process, which is then no longer safe to fork from
            runs_here.sort(key=lambda b: BACKENDS[b].descriptor.batch)
        for j, b in enumerate(runs_here):
            descriptor = BACKENDS[b].descriptor
            job = k.name if arrays is not None else b
            # an inline backend is the caller's own thread: one worker, p = 1 only
            for i, p in enumerate([1] if descriptor.isolation == "inline" else ps):
                first = i == 0 and (arrays is None or j == 0)  # the job's first of this kernel
                modes = {}
                if strong:
                    modes["strong"] = workload(size, ntasks, sweep)
                if "weak" in kmodes:
                    modes["weak"] = workload(weak_size, per_worker * p, sweep)
                # the triad's baseline sweeps the strong array's chunks: the one-thread reference
                baseline = (
                    dict(modes["strong"])
                    if arrays is not None and strong
                    else workload(weak_size, per_worker, sweep)
                )
                held = held_bytes(descriptor, p, modes, baseline) if arrays else None
                tree = tree_memory_bytes(k, descriptor, p, size, held)
                what = f"kernel {k.name} at size {size} on {b} with p={p}"
                if arrays is None:
                    check_memory(tree, what, f"{key}.sizes.{k.name}", node)
                else:
                    check_memory(
                        tree,
                        f"kernel {k.name} on {b} with p={p} ({', '.join(modes)}; each array "
                        f">= {LLC_MULTIPLE}x the last-level cache of the cores)",
                        f"{key}.sizes.{k.name}",
                        node,
                        TRIAD_MEMORY_FRACTION,
                        "lower p (cores.max), "
                        + (
                            f"drop weak from {key}.kernel_modes.{k.name}, "
                            if "weak" in modes
                            else ""
                        )
                        + f"or give a smaller sizes.{k.name} with {key}.allow_in_cache: true",
                    )
                array_facts = None
                if arrays is not None and held is not None:
                    array_facts = {
                        "llc_bytes": arrays.llc_strong if strong else arrays.llc_weak,
                        "llc_weak_bytes": arrays.llc_weak,
                        "in_cache": arrays.in_cache,
                        "job_bytes": held[0],
                        "worker_bytes": held[1],
                        "llc": arrays.llc,
                    }
                params = Params(
                    kernel=k.name,
                    backend=b,
                    p=p,
                    modes=modes,
                    baseline=baseline,
                    seed=config["seed"],
                    protocol=config["protocol"],
                    user_kernels=kernel_params(k).get("user_kernels"),
                    arrays=array_facts,
                    oversubscribed=True if p > node.usable else None,
                    dask_cluster=config["dask_cluster"] if b in cluster else None,
                )
                seconds = predict_seconds(
                    k, descriptor, p, modes, baseline, config["protocol"], node.usable, first, held
                )
                out.append(
                    Point(
                        NAME,
                        point_id(k.name, b, f"p{p}"),
                        params_of(params),
                        job=job,
                        seconds=round(seconds, 2),
                        mem_mb=mem_mb(tree),
                    )
                )
    return out


_BLAS_LIMITS: list[Any] = []  # keeps the job process's BLAS limit alive


def _one_blas_thread() -> None:
    """One BLAS thread in this process, leaving Numba's thread pool unstarted."""
    from threadpoolctl import threadpool_limits

    _BLAS_LIMITS.append(threadpool_limits(limits=1, user_api="blas"))


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    kernel = get_kernel(prm.kernel, prm.user_kernels)
    p, seed = prm.p, prm.seed
    protocol_cfg = prm.protocol
    protocol = Protocol.from_config(protocol_cfg)
    modes = prm.modes

    descriptor = BACKENDS[prm.backend].descriptor
    batch = descriptor.batch
    if kernel.kind != "memory":
        release()  # the triad's arrays of an earlier point of this job: not this point's
    compiles = [kernel.compile] if kernel.compile is not None else []
    if batch and kernel.compile_parallel is not None:
        compiles.append(kernel.compile_parallel)
    compile_s = 0.0
    for step in compiles:
        _, t = timed(step)
        compile_s += t.wall
    # numba-parallel gets p Numba threads; every other worker exactly one inner thread.
    # Workers compile too: spawned ones load the on-disk cache (cache=True).
    inner = functools.partial(limit_inner_pools, p if batch else 1)
    base = prm.baseline

    def prepares(*workloads: dict[str, int], workers: int = 1) -> list[functools.partial[None]]:
        """The kernel's prepare for these workloads, each worker taking its share of tasks."""
        if kernel.prepare is None:
            return []
        return [
            functools.partial(kernel.prepare, w["size"], max(1, held_slots(w) // workers), seed)
            for w in workloads
        ]

    tasks = {mode: kernel.make_tasks(m["size"], m["ntasks"], seed) for mode, m in modes.items()}
    base_tasks = kernel.make_tasks(base["size"], base["ntasks"], seed)

    if prm.dask_cluster is not None:
        configure_dask_cluster(prm.dask_cluster)
    # the baseline's inputs first: fork children then share them copy-on-write (the memory
    # estimate counts them once), as they do on the job's later points anyway. Workers of
    # this process (threads, prange) use the job's inputs for every workload; building them
    # (the triad's large arrays: allocation and first touch) is start-up, not a sample.
    in_job = descriptor.isolation in ("inline", "thread")
    _, t = timed(chain_init(*prepares(base, *(modes.values() if in_job else ()))))
    alloc_s = t.wall
    with make_backend(prm.backend, p) as backend:
        worker_prep = prepares(*modes.values(), workers=p)
        # a subinterpreter cannot import Numba: its workers get no inner-pool limit (the
        # kernels it runs are pure Python, declared subinterpreter_safe)
        limits = [] if descriptor.isolation == "interpreter" else [inner]
        _, t = timed(lambda: backend.start(chain_init(*limits, *compiles, *worker_prep)))
        startup_s = t.wall
        log.info("%s started in %.3f s (compile %.3f s)", prm.backend, startup_s, compile_s)
        pinned = backend.pin(affinity()) if protocol_cfg.get("pin_workers") else {}
        pools = inner_pools(backend) if limits else []
        fn = kernel.run_parallel if backend.batch else kernel.run
        arms = {mode: functools.partial(backend.map, fn, tasks[mode]) for mode in modes}
        # the baseline runs here, in this process's main thread, which compiled above: it
        # needs one BLAS thread (and the batch backend's Numba threads); Numba's thread
        # pool is started here only for a batch backend: it is not fork-safe, and a later
        # point of this job may fork its workers from this process
        (inner if batch else _one_blas_thread)()
        serial = make_backend(select(isolation="inline"), 1)  # the caller's own thread
        arms[BASELINE] = functools.partial(serial.map, kernel.run, base_tasks)
        # each mode's speedup over the baseline decides C1/C11: sample on while it straddles
        # (scaled by work: the triad's weak chunks differ in size from the baseline's)
        base_work = kernel.work(base["size"]) * base["ntasks"]
        decide = [
            (BASELINE, mode, kernel.work(m["size"]) * m["ntasks"] / base_work)
            for mode, m in modes.items()
        ]
        samples = sample_arms(arms, protocol, seed, together=True, decide=decide)
        info = backend.describe()

    out_modes = []
    for mode, m in modes.items():
        s = samples[mode]
        results = list(s.last_output)
        check = kernel.check(tasks[mode], results)
        deterministic = list(s.first_output) == results
        if not check.ok or not deterministic:
            log.error("%s %s: reference check failed: %s", point.id, mode, check.detail)
        out_modes.append(
            {
                "mode": mode,
                "size": m["size"],
                "ntasks": m["ntasks"],
                "slots": held_slots(m),
                "work": kernel.work(m["size"]) * m["ntasks"],
                "unit": kernel.unit,
                **arm_fields(s, warmup=True),
                "check_ok": check.ok and deterministic,
                "check_detail": check.detail,
                "deterministic": deterministic,
                "checksum": stable_hash(results),
            }
        )
    b = samples[BASELINE]
    base_check = kernel.check(base_tasks, list(b.last_output))
    return {
        "kernel": kernel.name,
        "kind": kernel.kind,
        "backend": prm.backend,
        "p": p,
        "baseline": {
            "size": base["size"],
            "ntasks": base["ntasks"],
            "slots": held_slots(base),
            "work": kernel.work(base["size"]) * base["ntasks"],
            **arm_fields(b),
            "check_ok": base_check.ok,
        },
        "startup_s": startup_s,
        "compile_s": compile_s,
        "alloc_s": alloc_s,
        "inner_pools": pools,
        "pinned": {str(k): v for k, v in pinned.items()},
        "backend_info": info,
        "modes": out_modes,
    }


def _serial_cost(base: dict[str, Any]) -> dict[str, float]:
    """The one-thread baseline's seconds per unit of work, median and 95% interval: the
    single-thread cost that interpreters are compared on (NaN for records without work)."""
    work = base.get("work")
    if not work:
        return dict.fromkeys(("serial_s_per_unit", "serial_s_per_unit_ci_lo",
                              "serial_s_per_unit_ci_hi"), float("nan"))  # fmt: skip
    med, lo, hi = median_ci(np.asarray(base["wall"]) / work)
    return {"serial_s_per_unit": med, "serial_s_per_unit_ci_lo": lo, "serial_s_per_unit_ci_hi": hi}


def paired_speedup(base: dict[str, Any], mode: dict[str, Any]) -> tuple[float, float, float]:
    """Median and 95% interval over rounds of the serial time of this mode's work (the
    baseline's time per unit of work x the mode's work; per task x tasks in records from
    before the baseline carried its work) over its parallel time in the same round."""
    scale = mode["work"] / base["work"] if "work" in base else mode["ntasks"] / base["ntasks"]
    ratios = scale * np.asarray(base["wall"]) / np.asarray(mode["wall"])
    return median_ci(ratios)


#: the flag of a triad row whose arrays were below STREAM's rule (allow_in_cache: true)
IN_CACHE = Flag.IN_CACHE.at()


def below_rule(
    arrays: dict[str, Any], mode: dict[str, Any], p: int, llc: cache.LastLevelCache
) -> bool:
    """Whether a triad mode's arrays were below STREAM's rule: planned so (allow_in_cache),
    or on the machine that measured it (its sysfs LLC, in provenance), which may differ
    from the one the plan assumed (a login node planning a compute node)."""
    if arrays.get("in_cache"):
        return True
    if not llc.domains:
        return False  # an old record, or a machine without cache facts: the plan's word
    per_array = array_bytes(mode)
    if mode["mode"] == "strong":
        return per_array < LLC_MULTIPLE * llc.reach_bytes(p)
    return per_array / p < LLC_MULTIPLE * llc.reach_bytes(1)


def _array_columns(
    arrays: dict[str, Any] | None, mode: dict[str, Any], ref_gbs: float, rate: float
) -> dict[str, float]:
    """The triad's cache and bandwidth columns (NaN for other kernels and older records):
    the LLC the mode's cores reach, one array's bytes (the strong total; a weak worker's
    share x workers), the one-thread reference's GB/s and this rate as a fraction of it."""
    if not arrays:
        nan = float("nan")
        return {"llc_bytes": nan, "array_bytes": nan, "triad_reference_gbs": nan,
                "bandwidth_fraction": nan}  # fmt: skip
    llc = arrays["llc_bytes"] if mode["mode"] == "strong" else arrays["llc_weak_bytes"]
    return {
        "llc_bytes": float(llc),
        "array_bytes": array_bytes(mode),
        "triad_reference_gbs": ref_gbs,
        "bandwidth_fraction": rate / (ref_gbs * 1e9) if ref_gbs == ref_gbs else float("nan"),
    }


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    from coresweep.stats import karp_flatt

    rows = []
    for rec in records:
        r = rec["result"]
        base = r["baseline"]
        doubts = job_flags(r)
        base_flags = stability_flags(base["wall"], base["first_run"])
        if not base["check_ok"]:
            base_flags.append(Flag.CHECK_FAILED.at())
        usable = rec["provenance"].get("machine", {}).get("usable_cores")
        over = oversubscribed(rec, r["p"])
        arrays = rec.get("point", {}).get("params", {}).get("arrays")
        llc_here = cache.from_dict(rec["provenance"].get("machine", {}).get("last_level_cache"))
        # the one-thread reference: the baseline swept the strong workload in the job
        ref_gbs = (
            base["work"] / float(np.median(base["wall"])) / 1e9
            if arrays and "work" in base
            else float("nan")
        )
        for m in r["modes"]:
            wall = np.asarray(m["wall"])
            s = summarize(wall)
            cpu_med = float(np.median(m["cpu"]))
            # busy cores per sample (CPU clock in ns), so it has an interval
            busy, busy_lo, busy_hi = median_ci(np.asarray(m["cpu"]) / wall)
            flags = stability_flags(wall, m["first_run"]) + doubts + over
            if arrays and below_rule(arrays, m, r["p"], llc_here):
                flags.append(IN_CACHE)
            if busy > r["p"] * 1.05:
                flags.append(Flag.INNER_OVERSUBSCRIBED.at())  # more busy cores than workers
            if not m["check_ok"]:
                flags.append(Flag.CHECK_FAILED.at())
            speedup, lo, hi = paired_speedup(base, m)
            rows.append(
                {
                    "kernel": r["kernel"],
                    "kind": r["kind"],
                    "backend": r["backend"],
                    "p": r["p"],
                    "usable_cores": usable,
                    "mode": m["mode"],
                    "size": m["size"],
                    "ntasks": m["ntasks"],
                    "unit": m["unit"],
                    **s.time_columns(),
                    "time_iqr": s.iqr,
                    "outliers": s.outliers,
                    "cpu_median": cpu_med,
                    "busy_cores": busy,
                    "busy_cores_ci_lo": busy_lo,
                    "busy_cores_ci_hi": busy_hi,
                    "cpu_utilization": busy / r["p"],
                    "cpu_seconds_per_unit": cpu_med / m["work"],
                    "rate": m["work"] / s.median,
                    "speedup": speedup,
                    "speedup_ci_lo": lo,
                    "speedup_ci_hi": hi,
                    "speedup_rel_halfwidth": (hi - lo) / 2 / speedup,
                    "baseline_time_median": float(np.median(base["wall"])),
                    **_serial_cost(base),
                    "baseline_flags": ";".join(base_flags),
                    "startup_s": r["startup_s"],
                    "compile_s": r["compile_s"],
                    "alloc_s": r.get("alloc_s", float("nan")),
                    **_array_columns(arrays, m, ref_gbs, m["work"] / s.median),
                    "first_run": m["first_run"],
                    "inner": m["inner"],
                    "stopped_on": m["stopped_on"],
                    "check_ok": m["check_ok"],
                    **row_tail(rec, flags),
                }
            )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["efficiency"] = df.speedup / df.p
    df["efficiency_ci_lo"] = df.speedup_ci_lo / df.p
    df["efficiency_ci_hi"] = df.speedup_ci_hi / df.p
    df["karp_flatt"] = [karp_flatt(s, p) for s, p in zip(df.speedup, df.p, strict=True)]
    # the host of each row is build_table's column, as for every table
    return df.sort_values(["kernel", "mode", "backend", "p"]).reset_index(drop=True)


EXPERIMENT = from_module(
    __name__,
    ("C1", "C2", "C11"),
    "strong and weak scaling of every kernel under every backend",
)
