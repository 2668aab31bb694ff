"""Hybrids: P processes x T threads with P·T = cores, inner pools limited or not (claim C9).

Two families, one job each:

* dask-dgemm — a Dask LocalCluster of P worker processes x T threads per worker, one DGEMM
  block product per task; the inner pool is BLAS.
* processes-numba — a multiprocessing pool of P processes (forkserver or spawn), each running
  a Numba prange batch of Monte Carlo tasks on T threads; the inner pool is Numba's.

Every split P x T (P·T = cores) starts one pool and runs two arms on it, sampled
interleaved: "limited" (the inner pool holds exactly the T threads the split grants, or 1
for BLAS) and "unlimited" (the inner pool at its library default of one thread per CPU, as
happens when nobody sets it), which shows the oversubscription penalty. The task wrapper
`with_inner_pools` switches the inner pool when the arm changes. The inner pool sizes the
workers really had under each arm are probed and kept. The serial reference runs in the job
process with every inner pool at one thread.

Scale: the splits are every divisor pair of the cores (1xN .. Nx1: 8 splits at 128 cores),
and the total work grows with the cores (tasks_per_core). The serial reference runs the
first `serial_tasks` tasks (all of them up to a few cores) and its time is scaled to the
whole work: one thread's time is linear in the tasks, and measuring all 512 tasks of a
128-core node serially would take minutes. Its outputs are compared with the same tasks'
outputs of every split. Both families share one job: they run one after another, each
pool is gone before the next starts, and processes-numba's pool is never forked.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep.backends import BACKENDS, Backend, make_backend, select
from coresweep.backends.base import chain_init
from coresweep.config import ConfigError
from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import (
    NUMBA_COMPILE_SECONDS,
    PROCESS_MB,
    RUNNER_SECONDS,
    nominal_seconds,
    pool_mb,
    pool_start_seconds,
    sampling_seconds,
)
from coresweep.experiments.row_flags import job_flags, oversubscribed
from coresweep.experiments.rows import arm_fields, point_id, row_tail
from coresweep.experiments.validation import check_memory, check_tree, pool_size
from coresweep.flags import Flag
from coresweep.kernels import Kernel, get_kernel
from coresweep.measure.cores import Node
from coresweep.measure.inner_pools import limit_inner_pools, probe, with_inner_pools
from coresweep.measure.sampling import Protocol, sample_arms
from coresweep.measure.timer import timed
from coresweep.records import Point, params_of, stable_hash
from coresweep.stats import ratio_ci, stability_flags, summarize

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "hybrid"
LIMITED, UNLIMITED, SERIAL = "limited", "unlimited", "serial"
CHUNKS_PER_PROCESS = 2  # prange batches per pool process, so a fast process can take more
#: predictions only: assumed slowdown of the unlimited (oversubscribed) arm, scheduler time
#: per Dask task, and probing the inner pools of every worker once per variant
UNLIMITED_SLOWDOWN = 2.0
DASK_TASK_SECONDS = 5e-4
PROBE_SECONDS = 0.1


@dataclass(frozen=True)
class Family:
    """An outer processes x threads model and the inner pool its tasks may start.

    pool: the descriptor facts that pick the outer pool from the backend registry; the
    config's start_method completes them unless the family fixes its own (Dask's nanny).
    """

    name: str
    kernel: str
    inner: str  # "blas" or "numba"
    description: str
    pool: dict[str, Any]


FAMILIES = {
    f.name: f
    for f in (
        Family(
            "dask-dgemm",
            "dgemm",
            "blas",
            "Dask LocalCluster: P worker processes x T threads, one DGEMM block per task",
            # worker processes under a nanny, fed by Dask's scheduler
            {"isolation": "process", "start_method": "nanny", "dispatch": "scheduler"},
        ),
        Family(
            "processes-numba",
            "mc-numba",
            "numba",
            "multiprocessing pool of P processes, each a Numba prange batch on T threads",
            # multiprocessing.Pool: fed by the caller, a dead worker is replaced (unlike
            # concurrent.futures' pool, which breaks)
            {
                "isolation": "process",
                "dispatch": "caller",
                "supervision": "worker-replaced-task-lost",
            },
        ),
    )
}


@dataclass(frozen=True)
class Params:
    """What one hybrid point measures: a family over every split of its cores."""

    family: str
    kernel: str
    size: int
    ntasks: int
    serial_tasks: int  # the serial reference runs the first this many tasks
    cores: int
    threads: int
    splits: list[tuple[int, int]]
    variants: list[str]
    start_method: str
    seed: int
    protocol: dict[str, Any]


def pool_of(fam: Family, start_method: str) -> str:
    """The registered backend a family's outer pool runs on, chosen by its descriptor."""
    return select(**{"start_method": start_method, **fam.pool})


def splits(cores: int) -> list[tuple[int, int]]:
    """Every (P, T) with P x T = cores."""
    return [(p, cores // p) for p in range(1, cores + 1) if cores % p == 0]


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    bad = [f for f in cfg["families"] if f not in FAMILIES]
    if bad:
        raise ConfigError(f"config key {key}.families: unknown {bad}; allowed: {list(FAMILIES)}")
    cores = pool_size(cfg["cores"], config["cores"], node, f"{key}.cores")
    out = []
    for name in cfg["families"]:
        fam = FAMILIES[name]
        if fam.kernel not in cfg["sizes"]:
            raise ConfigError(f"config key {key}.sizes: no size for kernel {fam.kernel!r}")
        size = cfg["sizes"][fam.kernel]
        if fam.kernel == "dgemm":
            check_memory(
                cores * 3 * 8.0 * size**2, f"dgemm at order {size}", f"{key}.sizes.dgemm", node
            )
        ntasks = cores * cfg["tasks_per_core"]
        prm = Params(
            family=name,
            kernel=fam.kernel,
            size=size,
            ntasks=ntasks,
            serial_tasks=min(ntasks, cfg["serial_tasks"]),
            cores=cores,
            threads=cores,
            splits=splits(cores),
            variants=list(cfg["variants"]),
            start_method=cfg["start_method"],
            seed=config["seed"],
            protocol={**config["protocol"], **cfg["protocol"]},
        )
        seconds, mb = predict(fam, prm)
        check_tree(mb, f"{cores} {name} workers", f"{key}.cores", node)
        pid = point_id(name, f"c{cores}")
        out.append(Point(NAME, pid, params_of(prm), job=NAME, seconds=seconds, mem_mb=mb))
    return out


def predict(fam: Family, prm: Params) -> tuple[float, int]:
    """Seconds and peak MB of one family's point: the serial reference, then per split a
    pool start and its variants sampled together; memory at the widest split (P = cores)."""
    c, n, protocol = prm.cores, prm.ntasks, prm.protocol
    pool = pool_of(fam, prm.start_method)
    task = nominal_seconds(fam.kernel, prm.size)
    seconds = RUNNER_SECONDS + sampling_seconds([prm.serial_tasks * task], protocol)
    slowdown = {LIMITED: 1.0, UNLIMITED: UNLIMITED_SLOWDOWN}
    for p, _ in prm.splits:
        start = pool_start_seconds(pool, p, c)
        if fam.inner == "blas":
            call = n * task / c + n * DASK_TASK_SECONDS
        else:  # every pool process compiles the kernel and its prange version
            start += 2 * NUMBA_COMPILE_SECONDS
            call = n * task / c
        arms = [call * slowdown[v] for v in prm.variants]
        seconds += start + sampling_seconds(arms, protocol) + PROBE_SECONDS * len(arms)
    blocks = 3 * 8.0 * prm.size**2 / 1e6 if fam.inner == "blas" else 0.0  # a, b, a @ b
    return seconds, round(PROCESS_MB + blocks + pool_mb(pool, c) + c * blocks)


def unlimited_threads() -> int:
    """An inner pool's library default: one thread per CPU the OS reports."""
    return os.cpu_count() or 1


def inner_threads(fam: Family, t: int, variant: str) -> int:
    """The inner pool a variant asks for: the split's T Numba threads (or 1 BLAS thread per
    worker thread) when limited, the library default otherwise."""
    if variant != LIMITED:
        return unlimited_threads()
    return 1 if fam.inner == "blas" else t


def _split(
    fam: Family, kernel: Kernel, prm: Params, p: int, t: int
) -> tuple[Backend, Any, Any, list[Any]]:
    """Backend, init, function and items for one P x T split (both variants share them)."""
    size, ntasks, seed = prm.size, prm.ntasks, prm.seed
    tasks = kernel.make_tasks(size, ntasks, seed)
    pool = pool_of(fam, prm.start_method)
    if fam.inner == "blas":  # Dask's workers take T threads each: the BLAS tasks run on them
        dask: Any = BACKENDS[pool]
        backend: Backend = dask(p, threads_per_worker=t)
        return backend, functools.partial(kernel.prepare, size, ntasks, seed), kernel.run, tasks
    backend = make_backend(pool, p)
    init = chain_init(kernel.compile, kernel.compile_parallel)
    return backend, init, kernel.run_parallel, chunked(tasks, p * CHUNKS_PER_PROCESS)


def _probe(backend: Backend, inner: str, threads: int, p: int) -> list[dict[str, Any]]:
    """The inner pools the workers really have under a variant (one answer per process)."""
    infos = backend.map(functools.partial(with_inner_pools, inner, threads, probe), range(p))
    return list({i["pid"]: i for i in infos}.values())


def chunked(items: Sequence[Any], n: int) -> list[list[Any]]:
    """items in n contiguous chunks of near-equal length (none empty), order kept."""
    n = max(1, min(n, len(items)))
    q, r = divmod(len(items), n)
    bounds = np.cumsum([0] + [q + (i < r) for i in range(n)])
    return [list(items[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _flatten(out: Sequence[Any]) -> list[Any]:
    return [x for item in out for x in (item if isinstance(item, list) else [item])]


def _serial(kernel: Kernel, prm: Params, protocol: Protocol) -> dict[str, Any]:
    """The reference: the first serial_tasks tasks in this process, every inner pool at one
    thread (per-task seeds do not depend on the number of tasks, so they are the same tasks)."""
    n = prm.serial_tasks
    tasks = kernel.make_tasks(prm.size, n, prm.seed)
    steps = [functools.partial(limit_inner_pools, 1, 1)]
    if kernel.compile is not None:
        steps.append(kernel.compile)
    if kernel.prepare is not None:
        steps.append(functools.partial(kernel.prepare, prm.size, n, prm.seed))
    # the caller's own thread: no pool between the reference and its tasks
    with make_backend(select(isolation="inline"), 1) as backend:
        backend.start(chain_init(*steps))
        s = sample_arms(
            {SERIAL: functools.partial(backend.map, kernel.run, tasks)}, protocol, prm.seed
        )[SERIAL]
    check = kernel.check(tasks, list(s.last_output))
    rec = _record(SERIAL, 1, 1, 0.0, [], s, check.ok, stable_hash(list(s.last_output)))
    return rec | {"tasks": n, "scale": prm.ntasks / n}


def _record(
    variant: str,
    p: int,
    t: int,
    start: float,
    pools: list[dict[str, Any]],
    s: Any,
    ok: bool,
    checksum: str,
) -> dict[str, Any]:
    return {
        "variant": variant,
        "processes": p,
        "threads_per_process": t,
        "start_s": start,
        "inner_pools": pools,
        **arm_fields(s),
        "check_ok": ok and list(s.first_output) == list(s.last_output),
        "checksum": checksum,
    }


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    fam = FAMILIES[prm.family]
    kernel = get_kernel(fam.kernel)
    protocol = Protocol.from_config(prm.protocol)
    cells = [_serial(kernel, prm, protocol)]
    tasks = kernel.make_tasks(prm.size, prm.ntasks, prm.seed)
    k = cells[0]["tasks"]  # the serial reference's tasks: outputs compared on these
    # one warm pool per split; its variants are arms sampled interleaved, so drift hardly
    # enters their ratio (the inner pool is switched by the task wrapper, not a restart)
    for p, t in prm.splits:
        backend, init, fn, items = _split(fam, kernel, prm, p, t)
        threads = {v: inner_threads(fam, t, v) for v in prm.variants}
        with backend:
            _, tm = timed(lambda b=backend, i=init: b.start(i))
            arms = {
                v: functools.partial(
                    backend.map, functools.partial(with_inner_pools, fam.inner, n, fn), items
                )
                for v, n in threads.items()
            }
            samples = sample_arms(arms, protocol, prm.seed)
            pools = {v: _probe(backend, fam.inner, n, p) for v, n in threads.items()}
        for v, s in samples.items():
            out = _flatten(s.last_output)
            ok = kernel.check(tasks, out).ok
            cell = _record(v, p, t, tm.wall, pools[v], s, ok, stable_hash(out))
            cells.append(cell | {"serial_checksum": stable_hash(out[:k])})
            log.info("%s %s %dx%d: %.3f s, pools %s", fam.name, v, p, t, min(s.wall), pools[v])
    return {
        "family": fam.name,
        "kernel": kernel.name,
        "kind": kernel.kind,
        "inner": fam.inner,
        "cores": prm.cores,
        "size": prm.size,
        "ntasks": prm.ntasks,
        "unlimited_threads": unlimited_threads(),
        "cells": cells,
    }


def _seen(pools: list[dict[str, Any]], inner: str) -> int:
    """The largest inner pool a worker reported (0 when nothing was probed)."""
    if inner == "blas":
        sizes = [n for pl in pools for n in pl.get("blas_threads", [])]
    else:
        sizes = [pl.get("numba_threads", 0) for pl in pools]
    return max(sizes, default=0)


def _rows(rec: dict[str, Any]) -> list[dict[str, Any]]:
    r = rec["result"]
    serial = next(c for c in r["cells"] if c["variant"] == SERIAL)
    base = np.asarray(serial["wall"]) * serial.get("scale", 1.0)  # to the whole work
    job = job_flags(r)
    rows = []
    for c in r["cells"]:
        scale = c.get("scale", 1.0)  # the serial reference's subset, scaled to the whole work
        wall = np.asarray(c["wall"]) * scale
        s = summarize(wall)
        speed = ratio_ci(base, wall)
        inner = _seen(c["inner_pools"], r["inner"]) if c["variant"] != SERIAL else 1
        # BLAS threads multiply with Dask's threads; a Numba batch replaces the T threads
        total = c["processes"] * (
            c["threads_per_process"] * inner if r["inner"] == "blas" else inner
        )
        flags = stability_flags(wall, c["first_run"] * scale) + job
        # more busy threads than the split's cores, or than the cores of the machine
        over = [Flag.OVERSUBSCRIBED.at()] if total > r["cores"] else oversubscribed(rec, total)
        flags += over
        if not c["check_ok"]:
            flags.append(Flag.CHECK_FAILED.at())
        same = c.get("serial_checksum", c["checksum"]) == serial["checksum"]
        if not same:
            flags.append(Flag.DIFFERS_FROM_SERIAL.at())
        rows.append(
            {
                "family": r["family"],
                "kernel": r["kernel"],
                "kind": r["kind"],
                "inner": r["inner"],
                "cores": r["cores"],
                "variant": c["variant"],
                "split": f"{c['processes']}x{c['threads_per_process']}",
                "processes": c["processes"],
                "threads_per_process": c["threads_per_process"],
                "inner_threads": inner,
                "threads_total": total,
                "size": r["size"],
                "ntasks": r["ntasks"],
                "measured_tasks": c.get("tasks", r["ntasks"]),  # serial: fewer, time scaled
                **s.time_columns(),
                "speedup": speed[0],
                "speedup_ci_lo": speed[1],
                "speedup_ci_hi": speed[2],
                "busy_cores": float(np.median(c["cpu"])) * scale / s.median if s.median else np.nan,
                "start_s": c["start_s"],
                "stopped_on": c["stopped_on"],
                "check_ok": c["check_ok"] and same,
                **row_tail(rec, flags),
                "_wall": wall,
            }
        )
    return rows


def _add_penalty(df: pd.DataFrame) -> pd.DataFrame:
    """Oversubscription penalty: unlimited / limited wall time of the same split, with CI."""
    cols = {"penalty": np.nan, "penalty_ci_lo": np.nan, "penalty_ci_hi": np.nan}
    df = df.assign(**cols)
    lim = df[df.variant == LIMITED].set_index(["family", "processes", "threads_per_process"])
    for i, row in df[df.variant == UNLIMITED].iterrows():
        k = (row.family, row.processes, row.threads_per_process)
        if k in lim.index:
            df.loc[i, list(cols)] = ratio_ci(row._wall, lim.loc[k, "_wall"])
    return df


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    rows = [row for rec in records for row in _rows(rec)]
    if not rows:
        return pd.DataFrame()
    df = _add_penalty(pd.DataFrame(rows))
    return (
        df.drop(columns="_wall")
        .sort_values(["family", "variant", "processes"])
        .reset_index(drop=True)
    )


EXPERIMENT = from_module(
    __name__,
    ("C9",),
    "processes x threads splits at P·T = cores, inner pools limited or not",
)
