"""Helpers shared by experiments: core counts, point ids, memory limits, run metadata."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coresweep.config import ConfigError
from coresweep.kernels import Kernel, get_kernel
from coresweep.measure.cores import Node, affinity
from coresweep.measure.provenance import gil_reenabled, interpreter_label
from coresweep.measure.sched import choose_cpu
from coresweep.records import record_interpreter

if TYPE_CHECKING:
    from coresweep.backends.base import Descriptor
    from coresweep.measure.sampling import ArmSamples

log = logging.getLogger("coresweep")


def core_counts(spec: Any, cores_cfg: dict[str, Any], node: Node, key: str) -> list[int]:
    """The p values to measure: "auto" = 1, 2, 4, ... up to the cap, or an explicit list.

    The cap is min(cores granted, the node's usable cores, cores.max). An explicit p above
    the node's usable cores is an error unless cores.oversubscribe is true.
    """
    usable = node.usable
    cap = node.cap
    if cores_cfg.get("max", "auto") != "auto":
        cap = min(cap, int(cores_cfg["max"]))
    if spec == "auto":
        ps = [1]
        while ps[-1] * 2 <= cap:
            ps.append(ps[-1] * 2)
        if ps[-1] != cap:
            ps.append(cap)
        return ps
    ps = sorted(int(p) for p in spec)
    if ps[0] < 1:
        raise ConfigError(f"config key {key}: p must be >= 1, got {ps[0]}")
    over = [p for p in ps if p > usable]
    if over and not cores_cfg.get("oversubscribe", False):
        raise ConfigError(
            f"config key {key}: p={over} exceeds the {usable} usable cores "
            "(CPU affinity and cgroup quota); set cores.oversubscribe: true to measure it anyway"
        )
    return ps


def pool_size(spec: Any, cores_cfg: dict[str, Any], node: Node, key: str) -> int:
    """One worker count p: "auto" = the largest p core_counts allows, or an explicit integer."""
    return core_counts("auto" if spec == "auto" else [spec], cores_cfg, node, key)[-1]


def check_pinning(protocol: dict[str, Any], workers: int, key: str) -> None:
    """Pinning puts each worker on its own CPU: refuse more workers than the affinity set."""
    cpus = affinity()
    if protocol.get("pin_workers") and workers > len(cpus):
        raise ConfigError(
            f"config key protocol.pin_workers: {key} asks for {workers} pinned workers but the "
            f"affinity set has only {len(cpus)} CPUs {cpus}; lower p or turn pinning off"
        )


def check_dask_cluster(dc: dict[str, Any]) -> None:
    """The dask-cluster backend needs a scheduler address or jobqueue settings."""
    from coresweep.backends.dask_cluster import ENV_SCHEDULER

    if not dc.get("address") and not dc.get("jobqueue") and not os.environ.get(ENV_SCHEDULER):
        raise ConfigError(
            "config key dask_cluster.address: the dask-cluster backend needs a scheduler "
            f"address (tcp://host:8786), dask_cluster.jobqueue settings, or ${ENV_SCHEDULER}"
        )
    if dc.get("address") and dc.get("jobqueue"):
        raise ConfigError("config key dask_cluster: give address or jobqueue, not both")


def configure_dask_cluster(dc: dict[str, Any]) -> None:
    """Hand the config's dask_cluster section to the backend class the registry builds."""
    from coresweep.backends.dask_cluster import DaskClusterBackend

    DaskClusterBackend.configure(
        address=dc.get("address"),
        security=dc.get("tls"),
        jobqueue=dc.get("jobqueue"),
        connect_timeout=dc.get("connect_timeout"),
        workers_timeout=dc.get("workers_timeout"),
    )


def kernel_size(kernel: Kernel, sizes: Mapping[str, int], key: str) -> int:
    """The task size for a kernel: sizes[name], else a user kernel's own `size`.

    0 for a user kernel with neither: its task factory then keeps its own default size.
    """
    if kernel.name in sizes:
        return int(sizes[kernel.name])
    spec = getattr(kernel, "spec", None)
    if spec is not None and (spec.size or spec.unit == "task"):
        return spec.size or 0
    raise ConfigError(
        f"config key {key}: no size for kernel {kernel.name!r}"
        + (f" (or set user_kernels.{kernel.name}.size)" if spec is not None else "")
    )


def kernel_params(kernel: Kernel) -> dict[str, Any]:
    """Point params that let measure() rebuild a user kernel in a fresh process ({} otherwise)."""
    spec = getattr(kernel, "spec", None)
    return {} if spec is None else {"user_kernels": {kernel.name: spec.to_dict()}}


def backend_names(names: Sequence[str], key: str) -> list[str]:
    """The config's backends that this interpreter can run: an unknown name is a ConfigError
    naming key; a backend this interpreter cannot run (its `unavailable` reason, e.g.
    subinterpreters before 3.13) is left out, with a warning that says why."""
    from coresweep.backends import BACKENDS

    for n in names:
        if n not in BACKENDS:
            raise ConfigError(
                f"config key {key}: unknown backend {n!r}; allowed: {', '.join(sorted(BACKENDS))}"
            )
    out = []
    for n in names:
        reason = BACKENDS[n].unavailable()
        if reason is None:
            out.append(n)
        else:
            log.warning("config key %s: backend %s not measured: %s", key, n, reason)
    return out


def known_names(names: Sequence[str], allowed: Sequence[str], key: str) -> list[str]:
    """A config list whose every entry must be one of `allowed`; the error names key and values."""
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigError(f"config key {key}: unknown {unknown}; allowed: {', '.join(allowed)}")
    return list(names)


def check_memory(
    needed_bytes: float,
    what: str,
    key: str,
    node: Node,
    fraction: float = 0.5,
    advice: str = "choose a smaller size",
) -> None:
    """Refuse a point that would hold more than `fraction` (half) of the node's memory."""
    available = node.memory_bytes
    if needed_bytes > available * fraction:
        where = {"here": "available", "cluster": "of the compute node", "simulated": "of the node"}
        share = "half" if fraction == 0.5 else f"{fraction:.0%}"
        raise ConfigError(
            f"config key {key}: {what} needs {needed_bytes / 2**30:.1f} GiB, more than {share} of "
            f"the {available / 2**30:.1f} GiB {where.get(node.kind, 'available')}; {advice}"
        )


# --- the memory a point's process tree holds at once --------------------------------------
# Measured on this project's machines with the process-tree PSS sampler
# (coresweep.measure.memory), Python 3.11, numpy 2, Numba 0.68; tests/test_scaling_memory.py
# runs real points and checks the estimate against the tree's peak PSS. Library pages are
# shared by every process of the tree (PSS counts them once in the sum), so a worker adds
# mostly its private pages. MiB.
@dataclass(frozen=True)
class TreeMemory:
    """Constants of the process-tree memory model (MiB)."""

    #: the measuring job process: interpreter, numpy, Numba, coresweep's measurement
    #: modules and the libraries they map. Its PSS moves with how many other processes on
    #: the machine map the same library files. 125 MiB until jobs stopped importing
    #: scipy.stats (2026-11-28); refitted then to the eleven points of
    #: tests/test_scaling_memory.py, alone and inside the full suite (PSS differs by ~15 MB)
    job: float = 85.0
    #: Numba's JIT (LLVM) loaded and code compiled or read from the cache: first process
    #: of the tree (libllvmlite's pages and JIT data) ...
    jit_first: float = 35.0
    #: ... and each further process (its private JIT data)
    jit_worker: float = 30.0
    #: a fresh interpreter worker (spawn, forkserver, loky): numpy, Numba, the kernel module
    fresh_worker: float = 50.0
    #: a fork child beyond its task's arrays: little, as PSS splits the pages it still
    #: shares with its parent (dgemm and triad at p = 2: 174 and 445 MB measured)
    fork_worker: float = 1.0
    #: a Dask worker process (distributed, tornado, msgpack on top of the above)
    dask_worker: float = 73.0
    #: Dask's scheduler and nannies in the job process (LocalCluster)
    dask_local: float = 25.0
    #: helper processes of a pool: multiprocessing's resource tracker, the fork server
    helper: float = 6.5
    #: a subinterpreter worker in the job process: its own modules (coresweep's light ones,
    #: a pure-Python kernel) and objects; the job's USS grew 8, 20, 45 MiB with 1, 2, 4
    #: workers running mc-python (CPython 3.13.0, 2026-12-06)
    interpreter_worker: float = 11.0


TREE = TreeMemory()


def tree_memory_bytes(
    kernel: Kernel,
    descriptor: Any,
    workers: int,
    size: int,
    held: tuple[float, float] | None = None,
) -> float:
    """Peak bytes of a point's whole process tree: the job process, its workers, their data.

    The job process runs the in-job serial baseline in its main thread, so it holds the
    kernel's inputs and one task's arrays. Thread workers share the inputs and add one
    task's arrays each; a fork child shares its parent's inputs (prepared before the fork)
    and adds the pages it writes and one task's arrays; a fresh interpreter (spawn,
    forkserver, loky, a Dask worker) holds its own imports, JIT, inputs and one task's
    arrays; a subinterpreter worker, in the job's process, its own modules, inputs and one
    task's arrays. Workers of a cluster backend run elsewhere. `descriptor` is the backend's.

    `held` = (bytes the job process holds, bytes each worker process holds) replaces the
    per-task model for a kernel whose arrays the experiment sizes (the memory-bound triad:
    thread workers work on chunks of the job's arrays and add nothing).
    """
    inputs, task = kernel.memory_bytes(size)
    if held is not None:
        inputs, task = 0.0, 0.0
    job_held, worker_held = held or (0.0, 0.0)
    mib = 2.0**20
    parent = TREE.job + (TREE.jit_first if kernel.jit else 0.0)
    start = descriptor.start_method
    if start == "nanny":
        parent += TREE.dask_local
    total = parent * mib + inputs + task + job_held
    iso = descriptor.isolation
    if iso == "thread":
        total += workers * task
    elif iso == "interpreter":  # objects are per interpreter: its own inputs and task
        total += workers * (TREE.interpreter_worker * mib + inputs + task)
    elif iso == "process" and start == "fork":
        total += workers * (TREE.fork_worker * mib + task + worker_held)
    elif iso == "process":
        own = TREE.dask_worker if start == "nanny" else TREE.fresh_worker
        own += TREE.jit_worker if kernel.jit else 0.0
        helpers = 2 if start == "forkserver" else 1
        total += workers * (own * mib + inputs + task + worker_held) + helpers * TREE.helper * mib
    return total


def mem_mb(nbytes: float) -> int:
    """Bytes as whole MB (10^6 bytes, Snakemake's mem_mb), rounded up."""
    return int(math.ceil(nbytes / 1e6))


def point_id(*parts: Any) -> str:
    """A file-name-safe point id from its parts."""
    return "__".join(str(p).replace("/", "-").replace(" ", "") for p in parts)


def job_flags(result: dict[str, Any]) -> list[str]:
    """Doubts the runner recorded about the machine while a point ran (after its retries):
    short of cores (capacity probe) and a drifted reference kernel. The load average at
    start is recorded but flags nothing: for a minute after a job ends it still counts that
    job (the sweep's own previous point), and the capacity probe measures what it would
    only suggest — whether the point's cores are free."""
    job = result.get("job", {})
    flags = []
    if job.get("capacity_flag"):
        flags.append("low-capacity")
    if job.get("drift_flag"):
        flags.append("reference-drift")
    return flags


def arm_fields(s: ArmSamples, warmup: bool = False) -> dict[str, Any]:
    """One sampled arm as a raw record's fields: per-call wall and CPU seconds, calls per
    sample (inner), the first (cold) call, why sampling stopped; warm-up walls if asked."""
    out: dict[str, Any] = {"wall": s.wall, "cpu": s.cpu, "inner": s.inner, "first_run": s.first_run}
    if warmup:
        out["warmup_wall"] = s.warmup_wall
    out["stopped_on"] = s.stopped_on
    return out


def source_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    """The columns that name the raw record a table row came from: its point and provenance."""
    return {"point": record["point"]["id"], "provenance_hash": record["provenance_hash"]}


def oversubscribed(record: Mapping[str, Any], workers: int) -> list[str]:
    """["oversubscribed"] when the point ran more workers than the usable cores of the machine
    that measured it (its provenance; without them, what the plan marked on the point): the
    table keeps the point, verdicts never use it."""
    usable = record.get("provenance", {}).get("machine", {}).get("usable_cores")
    if usable:
        over = workers > usable
    else:
        over = bool(record.get("point", {}).get("params", {}).get("oversubscribed"))
    return ["oversubscribed"] if over else []


def row_tail(record: Mapping[str, Any], *flags: Sequence[str]) -> dict[str, Any]:
    """The columns every table row ends with: its flags (the groups given, in order, then
    interpreter_flags, joined by ';') and its source (source_columns)."""
    groups = (*flags, interpreter_flags(record))
    return {"flags": ";".join(f for group in groups for f in group), **source_columns(record)}


def interpreter_flags(record: Mapping[str, Any]) -> list[str]:
    """["gil-reenabled"] when a free-threaded build ran the point with its GIL on (read after
    every import of the job): the point does not count as free-threaded."""
    return ["gil-reenabled"] if gil_reenabled(record_interpreter(record)) else []


def interpreter_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per point, the interpreter that measured it: `interpreter` (interpreter_label: a
    free-threaded build whose GIL was on is "...t+gil"), `free_threaded` (the build) and
    `gil_enabled` (after every import of the job); None where an older record did not say."""
    out: dict[str, dict[str, Any]] = {"interpreter": {}, "free_threaded": {}, "gil_enabled": {}}
    for r in records:
        pid, facts = r["point"]["id"], record_interpreter(r)
        out["interpreter"][pid] = interpreter_label(facts)
        out["free_threaded"][pid] = facts["free_threaded"]
        out["gil_enabled"][pid] = facts["gil_enabled"]
    return out


def cpu_spec(spec: int | str, key: str) -> int | str:
    """A CPU to pin to: "auto" stays (resolved where the job runs, a cluster node may
    differ); an explicit CPU must be in this process's affinity."""
    if spec != "auto":
        try:
            choose_cpu(spec)
        except ValueError as exc:
            raise ConfigError(f"config key {key}: {exc}; or use auto") from None
    return spec


# --- predictions for the planner: a point's seconds and memory ----------------------------
# Rough by design: each experiment keeps its formula in one small function (`predict`) built
# from these constants, so they can be calibrated against job records (predicted_s against
# measured seconds per point in results/jobs/*/*.json).

#: the runner's own time per point: capacity probes at start and end, drift reference (2 x 0.1 s)
RUNNER_SECONDS = 0.75
#: one Python process that has imported numpy and Numba (the job process, the sacrificial
#: subprocess of a faulty run), from the one memory model (TreeMemory), in MB
PROCESS_MB = round((TREE.job + TREE.jit_first) * 2**20 / 1e6)
#: a fresh process's first call of a Numba kernel: importing numba, loading the on-disk cache
NUMBA_COMPILE_SECONDS = 0.5


def nominal_seconds(kernel: str, size: int) -> float:
    """Predicted seconds of one task of a built-in kernel on one core (its declared rate)."""
    k = get_kernel(kernel)
    return k.work(size) / k.rate


#: predictions only: the expected fraction of deciding points whose ratio still straddles
#: its bar when the ordinary protocol stops (a guess from the quiet run of issue 20: about
#: 10 of 80 sub-cases straddled on their interval alone; rounded up to a quarter so that
#: noisier machines are not under-predicted). Such a point is assumed to use its whole
#: extra allowance (up to decisive_max_repeats rounds or decisive_budget_seconds); a job's
#: extra sampling is bounded by decisive_budget_share of its ordinary sampling.
STRADDLING = 0.25


def sampling_seconds(
    units: Sequence[float], protocol: Mapping[str, Any], decisive: bool = False
) -> float:
    """Predicted time of `sample_arms` over arms whose one call lasts `units` seconds.

    Warm-up calls, then rounds in which every arm takes one sample (a call repeated up to
    min_sample_seconds) until the budget is used, at least `repeats` and at most `max_repeats`
    rounds: the budget-bound case (precision may stop a quiet machine sooner). decisive: the
    call names deciding ratios (`sample_arms(decide=...)`); its expected extra sampling is
    added: STRADDLING x the extra allowance.
    """
    from coresweep.measure.sampling import Protocol

    pr = Protocol.from_config(protocol)
    if not units:
        return 0.0
    round_s = sum(max(u, pr.min_sample_seconds) for u in units)
    rounds = min(pr.max_repeats, max(pr.repeats, pr.point_budget_seconds / round_s))
    seconds = pr.warmup * sum(units) + rounds * round_s
    if decisive:
        more = max(0.0, pr.decisive_max_repeats - math.ceil(rounds)) * round_s
        # the job's ledger pools the share: a point may spend what others left unspent
        share = pr.decisive_budget_share * seconds
        seconds += min(STRADDLING * min(more, pr.decisive_budget_seconds), share)
    return seconds


def pool_start_seconds(backend: str, workers: int, cores: int) -> float:
    """Predicted start of a pool of `workers` on `cores` cores, up to workers that imported
    numpy: launches are serial in the parent, imports run a wave per `cores` workers.

    Chosen by the registered backend's descriptor: threads of this process start at once;
    a fork child copies its parent; a fresh interpreter (forkserver, spawn, a subinterpreter)
    imports numpy itself; loky's executor and Dask's nannies add their own machinery."""
    from coresweep.backends import BACKENDS

    d = BACKENDS[backend].descriptor
    waves = -(-workers // max(1, cores))  # ceil
    if d.isolation in ("inline", "thread"):
        return 0.001 * workers
    if d.start_method == "fork":
        return 0.05 + 0.005 * workers
    if d.start_method == "forkserver":
        return 0.3 + 0.02 * workers + 0.3 * waves
    if d.start_method == "spawn" or d.isolation == "interpreter":
        return 0.05 * workers + 0.4 * waves
    return 1.0 + 0.05 * workers + 0.5 * waves  # loky, Dask: an executor or a Nanny per worker


def dispatch_seconds(d: Descriptor) -> float:
    """Predicted cost of handing one task to a worker, serial in the caller, by the backend's
    descriptor: a plain call; a thread pool's queue; a pickled task through a pool's pipe; a
    task through Dask's scheduler (~1 ms; ~0.5 ms to threads of this process). Zero for a
    batch backend: one call takes every task."""
    if d.batch:
        return 0.0
    if d.dispatch == "scheduler":
        return 5e-4 if d.isolation == "thread" else 1e-3
    return {"inline": 1e-6, "thread": 3e-5}.get(d.isolation, 1e-4)


def pool_mb(backend: str, workers: int) -> float:
    """Predicted memory (MB) of a pool's own worker processes (or worker interpreters),
    without task data, from the one memory model (TreeMemory) by the backend's descriptor;
    threads share the parent."""
    from coresweep.backends import BACKENDS

    d = BACKENDS[backend].descriptor
    if d.isolation == "interpreter":  # in the job's process, but each with its own modules
        return workers * TREE.interpreter_worker * 2**20 / 1e6
    if d.isolation != "process":
        return 0.0
    own = TREE.fork_worker if d.start_method == "fork" else TREE.fresh_worker + TREE.jit_worker
    if d.start_method == "nanny":
        own = TREE.dask_worker + TREE.jit_worker
    return workers * own * 2**20 / 1e6


def check_tree(mem_mb: float, what: str, key: str, node: Node) -> None:
    """Refuse a point whose predicted process tree does not fit in the node's memory."""
    if mem_mb * 1e6 > node.memory_bytes:
        raise ConfigError(
            f"config key {key}: {what} needs ~{mem_mb / 1e3:.1f} GB (predicted process tree), "
            f"more than the {node.memory_bytes / 1e9:.1f} GB of the node; lower it, or set "
            "enabled: false"
        )
