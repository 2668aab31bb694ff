"""The planner's estimates of a point: the memory its process tree holds at once, and the
seconds it takes (sampling under the protocol, pool starts from the one cost model in
coresweep.costs, Numba compiles, the runner's own probes).

Rough by design: each experiment keeps its formula in one small function (`predict`) built
from these constants, so they can be calibrated against job records (predicted_s against
measured seconds per point in results/jobs/*/*.json).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from coresweep.costs import helper_count, start_seconds
from coresweep.kernels import Kernel, get_kernel


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
        helpers = helper_count(descriptor)  # the resource tracker, the fork server
        total += workers * (own * mib + inputs + task + worker_held) + helpers * TREE.helper * mib
    return total


def mem_mb(nbytes: float) -> int:
    """Bytes as whole MB (10^6 bytes, Snakemake's mem_mb), rounded up."""
    return int(math.ceil(nbytes / 1e6))


# --- predictions for the planner: a point's seconds ---------------------------------------

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
    """Predicted start of a registered backend's pool of `workers` on `cores` cores, up to
    workers that imported numpy: the one cost model (coresweep.costs) by its descriptor."""
    from coresweep.backends import BACKENDS

    return start_seconds(BACKENDS[backend].descriptor, workers, cores)


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
