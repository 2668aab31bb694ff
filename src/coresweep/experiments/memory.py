"""Memory of N workers per backend, idle and working, with and without a large input (claim C4).

For each backend and way of giving workers the input (none, a private copy, the parent's
array inherited, multiprocessing.shared_memory) and each N, the whole process tree's PSS
and USS are sampled while the workers idle and while they work; a line over N gives the
memory per extra worker. Cheap backends share a job; each costly one has its own.

Scale: N = 1, 2, 4, ... up to the cores, plus factor x cores (9 pools per backend at 128
cores). The "auto" input shrinks as N grows so that the copies of the largest N stay
within AUTO_COPIES_MIB: every copied worker receives the input through a pipe, and 256
copies of 64 MiB would take ~20 s per backend for the same MiB-per-worker slope.
Jobs stay apart (three, as before): the job process is part of the measured tree, and a
process that ran other pools or imported distributed would carry their heap into it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep import flags
from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import Descriptor
from coresweep.config import ConfigError
from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import PROCESS_MB, RUNNER_SECONDS, pool_mb, pool_start_seconds
from coresweep.experiments.row_flags import job_flags
from coresweep.experiments.rows import point_id, row_tail
from coresweep.experiments.validation import backend_names, check_memory, check_tree, core_counts
from coresweep.flags import Flag
from coresweep.measure import shared_input as si
from coresweep.measure.cores import Node
from coresweep.measure.memory import MIB, TreeMemorySampler, sample_for, scan_tree
from coresweep.measure.timer import timed
from coresweep.records import Point, params_of
from coresweep.stats import line_fit

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "memory"
#: the sharing modes, in the order they run in one pool: "copied" last, because receiving a
#: pickled input leaves heap residue in the worker that would inflate the modes after it
MODES = ("none", "inherited", "shm", "copied")
METRICS = ("pss", "uss", "pss_data")
#: backends measured in one job (each job pays ~2 s to start Python and the runner); packing
#: only: every other backend gets a job of its own
JOBS = (("threads", "processes-fork"), ("processes-forkserver", "processes-spawn"))
AUTO_INPUT_MIB = 64  # 256 MiB doubles the job time (copies, page-table walks) for the same verdict
AUTO_COPIES_MIB = 2048  # "auto" input x the largest N stays within this (copy time)
#: predictions only: pickling an input through a pipe, and the maps, gates and allocator
#: settling around each sampling window
COPY_BYTES_PER_SECOND = 1e9
STEP_SECONDS = 0.2
MIN_HZ = 10.0
UNSTEADY = 1.10  # a window whose peak exceeds its median by 10% is flagged


@dataclass(frozen=True)
class Params:
    """One job's point: its backends, each one's sharing modes, the pool sizes and windows."""

    backends: list[str]
    sharing: dict[str, list[str]]  # backend -> its sharing modes, in run order
    workers: list[int]  # the pool sizes N
    cores: int
    input_bytes: int
    scratch_bytes: int
    idle_seconds: float
    work_seconds: float
    hz: float
    timeout_seconds: float
    threads: int
    seed: int
    protocol: dict[str, Any]


def _copies(ns: Sequence[int], sharing: Sequence[str]) -> int:
    """Inputs alive at the worst moment: the parent's array, the segment, one per copied worker."""
    return 1 + ("shm" in sharing) + max(ns) * ("copied" in sharing)


def _input_bytes(spec: Any, copies: int, key: str, node: Node) -> int:
    """ "auto": 64 MiB, shrunk so the copies take no more than AUTO_COPIES_MIB and fit in a
    quarter of the node's memory."""
    if spec != "auto":
        return int(spec) * MIB
    available = node.memory_bytes
    mib = min(AUTO_INPUT_MIB, AUTO_COPIES_MIB // copies, int(available / 4 / copies / MIB))
    if mib < 1:
        raise ConfigError(f"config key {key}: too little memory available for any input")
    return mib * MIB


def modes(descriptor: Descriptor) -> tuple[str, ...]:
    """The sharing modes a backend can run, from its descriptor (in MODES order).

    inherited: the workers see the parent's array in place (threads share memory, fork
    workers inherit it copy-on-write); shm only means something between processes, and
    copied wherever a worker shares no memory with the parent (processes, subinterpreters:
    the pickled input becomes a private copy). A nanny-supervised (Dask) worker gets task
    arguments through the scheduler,
    where a 256 MiB argument crawls for seconds per worker: it skips "copied" (the
    communication experiment measures that path).
    """
    d = descriptor
    process = d.isolation == "process"
    runs = {
        "none": True,
        "inherited": d.shares_memory or d.arguments == "inherited",
        "shm": process,
        "copied": not d.shares_memory
        and d.isolation in ("interpreter", "process")
        and d.start_method != "nanny",
    }
    return tuple(m for m in MODES if runs[m])


def _measurable(name: str) -> bool:
    """N workers of this backend on this machine, each taking one task: not inline (one
    worker), not a batch (one call for all), not a cluster (workers beyond this tree)."""
    d = BACKENDS[name].descriptor
    return d.isolation in ("thread", "interpreter", "process") and not d.batch


def _groups(backends: Sequence[str]) -> list[list[str]]:
    """Backends by job: the pairs in JOBS together, every other backend alone."""
    paired = [[b for b in job if b in backends] for job in JOBS]
    alone = [[b] for b in backends if not any(b in job for job in JOBS)]
    return [g for g in paired if g] + alone


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    backends = backend_names(cfg["backends"], f"{key}.backends")
    bad = [b for b in backends if not _measurable(b)]
    if bad:
        allowed = [b for b in BACKENDS if _measurable(b)]
        raise ConfigError(
            f"config key {key}.backends: {bad} not supported (inline, batch or cluster); "
            f"allowed: {allowed}"
        )
    cap = core_counts("auto", config["cores"], node, f"{key}.workers")[-1]
    base = core_counts(cfg["workers"], config["cores"], node, f"{key}.workers")
    ns = sorted({*base, *(f * cap for f in cfg["oversubscribe_factors"])})
    sharing = {
        b: [m for m in modes(BACKENDS[b].descriptor) if m in cfg["sharing"]] for b in backends
    }
    used = sorted({m for ms in sharing.values() for m in ms})
    nbytes = _input_bytes(cfg["input_mib"], _copies(ns, used), f"{key}.input_mib", node)
    scratch = cfg["scratch_mib"] * MIB
    check_memory(
        _copies(ns, used) * nbytes * (used != ["none"]) + max(ns) * scratch,
        f"a {nbytes // MIB} MiB input for up to {max(ns)} workers ({', '.join(used)})",
        f"{key}.input_mib",
        node,
    )
    out = []
    for group in _groups(backends):
        prm = Params(
            backends=group,
            sharing={b: sharing[b] for b in group},
            workers=ns,
            cores=cap,
            input_bytes=nbytes,
            scratch_bytes=scratch,
            idle_seconds=cfg["idle_seconds"],
            work_seconds=cfg["work_seconds"],
            hz=cfg["hz"],
            timeout_seconds=cfg["timeout_seconds"],
            threads=cap,
            seed=config["seed"],
            protocol=config["protocol"],
        )
        seconds, mb = predict(prm)
        check_tree(mb, f"{max(ns)} workers of {', '.join(group)}", f"{key}.workers", node)
        out.append(Point(NAME, point_id(*group), params_of(prm), seconds=seconds, mem_mb=mb))
    return out


def predict(prm: Params) -> tuple[float, int]:
    """Seconds and peak MB of one job's point: per backend and N a pool start, then per
    sharing mode the input loaded (copied: through a pipe per worker), an idle and a working
    window, and the steps around them; memory at the largest N."""
    ns, nbytes, cores = prm.workers, prm.input_bytes, prm.cores
    window = prm.idle_seconds + prm.work_seconds + STEP_SECONDS
    seconds = RUNNER_SECONDS
    peak = 0.0
    for b in prm.backends:
        modes = prm.sharing[b]
        for n in ns:
            seconds += pool_start_seconds(b, n, cores) + len(modes) * window
            seconds += n * nbytes / COPY_BYTES_PER_SECOND * ("copied" in modes)
        n = max(ns)
        data = (n * ("copied" in modes) + 2) * nbytes + n * prm.scratch_bytes
        peak = max(peak, pool_mb(b, n) + data / 1e6)
    return seconds, round(PROCESS_MB + peak)


class Inputs:
    """The job's input array and shared segment, made before the first pool and freed with the job.

    Both exist for the whole job, so the parent's share of the tree is the same at every N
    and in every mode, and only the workers' share changes.
    """

    def __init__(self, nbytes: int, modes: set[str], stack: ExitStack) -> None:
        self.nbytes = nbytes
        self.array = si.make_array(nbytes) if modes & {"copied", "inherited"} else None
        self._shm = stack.enter_context(si.shared_array(nbytes)) if "shm" in modes else None

    def payload(self, sharing: str) -> Any:
        """What the load task carries: the array itself (pickled), the segment's name, nothing."""
        if sharing == "copied":
            return self.array
        if sharing == "shm":
            return (self._shm.name, self.nbytes)
        return None


@contextmanager
def _inherited(array: bytearray | None) -> Iterator[None]:
    """Publish the parent's array for fork workers and threads; withdraw it afterwards."""
    si.INHERITED = array
    try:
        yield
    finally:
        si.INHERITED = None
        si.release()  # threads held the input in this process


def _sample(b: Any, n: int, gate: Any, prm: Params) -> dict[str, Any]:
    """The tree's memory with the workers idle, then while all n of them work."""
    hz = prm.hz
    si.settle_allocator()  # the parent's pickle buffers of the last step are not in use
    idle = sample_for(prm.idle_seconds, hz=hz)
    order = (prm.work_seconds, prm.scratch_bytes, gate(n))
    with TreeMemorySampler(hz=hz) as sampler:
        who = b.map(si.work, [order] * n)
    working = sampler.stop()
    return {
        "idle": idle.to_dict(),
        "working": working.to_dict(),
        "busy_workers": len({tuple(w) for w in who}),
    }


def _pool(backend: str, n: int, inputs: Inputs, gate: Any, prm: Params) -> list[dict]:
    """One pool of n workers measured in every sharing mode in turn (the input loaded, unloaded)."""
    runs = []
    baseline = scan_tree(os.getpid())
    with make_backend(backend, n) as b:
        _, t = timed(b.start)
        # every worker runs one task first: a fresh spawned worker has not imported its modules yet
        ready = len(set(b.map(si.ready, [gate(n)] * n)))
        for sharing in prm.sharing[backend]:
            holders = n
            if sharing != "none":
                order = (sharing, inputs.payload(sharing), gate(n))
                holders = len(set(b.map(si.load, [order] * n)))
            run = _sample(b, n, gate, prm)
            if sharing != "none":
                b.map(si.unload, [gate(n)] * n)
            log.info(
                "%s/%s N=%d: idle data PSS %.0f MiB",
                backend,
                sharing,
                n,
                np.median(run["idle"]["pss_data"]) / MIB,
            )
            runs.append(
                {
                    "backend": backend,
                    "sharing": sharing,
                    "workers": n,
                    "start_s": t.wall,
                    "holders": min(holders, ready),
                    "baseline": {"pss_data": baseline.pss_data, "nprocs": baseline.nprocs},
                    **run,
                }
            )
    return runs


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    runs = []
    modes = {m for ms in prm.sharing.values() for m in ms}
    si.settle_allocator()  # before any large block is freed; fork workers inherit it
    with ExitStack() as stack:  # the segment is unlinked and the gates removed, also on Ctrl-C
        inputs = Inputs(prm.input_bytes, modes, stack)
        gate = stack.enter_context(si.gates(prm.timeout_seconds))
        stack.enter_context(_inherited(inputs.array))
        for backend in prm.backends:
            for n in prm.workers:
                runs += _pool(backend, n, inputs, gate, prm)
    return {
        "input_mib": prm.input_bytes / MIB,
        "scratch_mib": prm.scratch_bytes / MIB,
        "cores": prm.cores,
        "runs": runs,
    }


def _window(run: dict[str, Any], state: str) -> dict[str, Any]:
    """MiB of one sampling window per metric: the level (idle: median; working: peak,
    when every worker holds its working memory), the median and the peak."""
    w = run[state]
    out: dict[str, Any] = {}
    for metric in METRICS:
        mib = np.asarray(w[metric]) / MIB
        out[f"{metric}_median_mib"] = float(np.median(mib))
        out[f"{metric}_peak_mib"] = float(mib.max())
        out[f"{metric}_mib"] = out[f"{metric}_{'peak' if state == 'working' else 'median'}_mib"]
    out["rss_mib"] = float(np.median(w["rss"]) / MIB)
    out["nprocs"] = int(max(w["nprocs"]))
    out["samples"] = len(w["t"])
    out["achieved_hz"] = w["achieved_hz"]
    return out


def _worker_processes(name: str) -> bool:
    """Are the workers processes of their own (each one in the tree, each holding an input)?"""
    return name in BACKENDS and BACKENDS[name].descriptor.separate_processes


def _row_flags(row: dict[str, Any], run: dict[str, Any], state: str) -> list[str]:
    flags = []
    if row["achieved_hz"] < MIN_HZ:
        flags.append(Flag.SPARSE_SAMPLING.at(MIN_HZ))
    if state == "idle" and row["pss_data_peak_mib"] > UNSTEADY * row["pss_data_median_mib"]:
        flags.append(Flag.MEMORY_UNSTEADY.at())
    processes = _worker_processes(run["backend"])
    if processes and row["nprocs"] < run["workers"] + 1:
        flags.append(Flag.WORKERS_MISSING.at())
    if state == "working" and run["busy_workers"] < run["workers"]:
        flags.append(Flag.NOT_ALL_BUSY.at())
    if processes and run["holders"] < run["workers"]:
        flags.append(Flag.NOT_ALL_HOLD_INPUT.at())
    return flags


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for rec in records:
        r = rec["result"]
        for run in r["runs"]:
            for state in ("idle", "working"):
                row = {
                    "backend": run["backend"],
                    "sharing": run["sharing"],
                    "state": state,
                    "workers": run["workers"],
                    "cores": r["cores"],
                    "input_mib": r["input_mib"] if run["sharing"] != "none" else 0.0,
                    "scratch_mib": r["scratch_mib"] if state == "working" else 0.0,
                    **_window(run, state),
                    "baseline_pss_data_mib": run["baseline"]["pss_data"] / MIB,
                    "busy_workers": run["busy_workers"] if state == "working" else 0,
                    "start_s": run["start_s"],
                }
                rows.append(row | row_tail(rec, _row_flags(row, run, state), job_flags(r)))
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return _add_fits(df)


def _add_fits(df: pd.DataFrame) -> pd.DataFrame:
    """MiB per extra worker: the slope of the tree's median PSS, USS and data PSS over N."""
    import pandas as pd

    parts = []
    for _, g in df.groupby(["backend", "sharing", "state"], sort=True):
        g = g.sort_values("workers").copy()
        for metric in METRICS:
            fit = line_fit(g.workers, g[f"{metric}_mib"])
            g[f"{metric}_per_worker_mib"] = fit.slope
            g[f"{metric}_per_worker_ci_lo"] = fit.ci_lo
            g[f"{metric}_per_worker_ci_hi"] = fit.ci_hi
            g[f"{metric}_fit_r2"] = fit.r2
            g[f"{metric}_intercept_mib"] = fit.intercept
        g["fit_levels"] = len(g)
        if len(g) < 3:
            g["flags"] = [flags.join([f, Flag.FEW_LEVELS.at()]) for f in g["flags"]]
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


EXPERIMENT = from_module(
    __name__,
    ("C4",),
    "PSS/USS of the process tree vs workers, by backend and input sharing",
)
