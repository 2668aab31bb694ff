"""Strong and weak scaling of every kernel under every backend (claims C1, C2, C11).

One job per (kernel, backend, p); inside it the strong and weak workloads and a serial
baseline (the kernel in a plain loop in the job's own process) are sampled round by round.
Every speedup is the median over rounds of baseline / parallel time from the same round,
so a change of the machine's speed between or during jobs cancels out. Start-up and
Numba compilation are timed apart from the samples.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep.analysis.stats import median_ci, stability_flags, summarize
from coresweep.analysis.verdict import Verdict
from coresweep.backends import BACKENDS, make_backend
from coresweep.backends.base import chain_init
from coresweep.backends.serial import SerialBackend
from coresweep.experiments.base import Experiment
from coresweep.experiments.common import (
    backend_names,
    check_dask_cluster,
    check_memory,
    check_pinning,
    configure_dask_cluster,
    core_counts,
    kernel_params,
    kernel_size,
    kernels_from,
    point_id,
)
from coresweep.kernels import Kernel, get_kernel
from coresweep.kernels.user import runs_on
from coresweep.measure.cores import Node, affinity
from coresweep.measure.guard import inner_pools, limit_inner_pools
from coresweep.measure.sampling import Protocol, sample_arms
from coresweep.measure.timer import timed
from coresweep.records import Point, stable_hash

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "scaling"
BASELINE = "serial-baseline"  # the in-job serial arm
PROCESS_BACKENDS = ("processes-fork", "processes-forkserver", "processes-spawn", "dask-processes")


def applicable(kernel: Kernel, backend: str) -> bool:
    """A batch backend needs the kernel's prange version; serial only makes sense alone."""
    batch_ok = not BACKENDS[backend].descriptor.batch or kernel.run_parallel is not None
    return batch_ok and runs_on(kernel, backend)  # runs_on: a user kernel may not pickle


def _memory_per_worker(kernel: Kernel, size: int, ntasks: int) -> float:
    if kernel.name == "dgemm":
        return 3 * 8.0 * size * size
    if kernel.name == "triad":
        return 3 * 8.0 * size * ntasks
    return 0.0


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    kernels = kernels_from(cfg["kernels"], f"{key}.kernels", config.get("user_kernels"))
    backends = backend_names(cfg["backends"], f"{key}.backends")
    ps = core_counts(cfg["p"], config["cores"], node, f"{key}.p")
    if "dask-cluster" in backends:
        check_dask_cluster(config["dask_cluster"])
    sizes = cfg["sizes"]
    out = []
    for k in kernels:
        size = kernel_size(k, sizes, f"{key}.sizes")
        for b in backends:
            if not applicable(k, b):
                continue
            for p in [1] if b == "serial" else ps:
                modes = {}
                if "strong" in cfg["modes"]:
                    modes["strong"] = {"size": size, "ntasks": cfg["strong_tasks"]}
                if "weak" in cfg["modes"]:
                    modes["weak"] = {"size": size, "ntasks": cfg["weak_tasks_per_worker"] * p}
                check_pinning(config["protocol"], p, f"{key}.p={p}")
                worst = max(m["ntasks"] for m in modes.values())
                workers = 1 if b in ("threads", "dask-threads", "numba-parallel") else p
                check_memory(
                    workers * _memory_per_worker(k, size, worst),
                    f"kernel {k.name} at size {size} with p={p}",
                    f"{key}.sizes.{k.name}",
                    node,
                )
                params = {
                    "kernel": k.name,
                    "backend": b,
                    "p": p,
                    "modes": modes,
                    "baseline": {"size": size, "ntasks": cfg["weak_tasks_per_worker"]},
                    "seed": config["seed"],
                    "protocol": config["protocol"],
                    **kernel_params(k),
                }
                if b == "dask-cluster":
                    params["dask_cluster"] = config["dask_cluster"]
                out.append(Point(NAME, point_id(k.name, b, f"p{p}"), params))
    return out


def measure(point: Point) -> dict[str, Any]:
    prm = point.params
    kernel = get_kernel(prm["kernel"], prm.get("user_kernels"))
    p, seed = prm["p"], prm["seed"]
    protocol_cfg = prm["protocol"]
    protocol = Protocol.from_config(protocol_cfg)
    modes = prm["modes"]

    batch = BACKENDS[prm["backend"]].descriptor.batch
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
    base = prm["baseline"]

    def prepares(*workloads: dict[str, int]) -> list[functools.partial[None]]:
        if kernel.prepare is None:
            return []
        return [functools.partial(kernel.prepare, w["size"], w["ntasks"], seed) for w in workloads]

    tasks = {mode: kernel.make_tasks(m["size"], m["ntasks"], seed) for mode, m in modes.items()}
    base_tasks = kernel.make_tasks(base["size"], base["ntasks"], seed)

    if "dask_cluster" in prm:
        configure_dask_cluster(prm["dask_cluster"])
    with make_backend(prm["backend"], p) as backend:
        _, t = timed(
            lambda: backend.start(chain_init(inner, *compiles, *prepares(*modes.values())))
        )
        startup_s = t.wall
        log.info("%s started in %.3f s (compile %.3f s)", prm["backend"], startup_s, compile_s)
        pinned = backend.pin(affinity()) if protocol_cfg.get("pin_workers") else {}
        pools = inner_pools(backend)
        fn = kernel.run_parallel if backend.batch else kernel.run
        arms = {mode: functools.partial(backend.map, fn, tasks[mode]) for mode in modes}
        # the baseline runs here, in this process's main thread, which compiled above: it
        # needs one BLAS thread (and the batch backend's Numba threads) and its inputs
        chain_init(inner, *prepares(base))()
        arms[BASELINE] = functools.partial(SerialBackend().map, kernel.run, base_tasks)
        samples = sample_arms(arms, protocol, seed, together=True)
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
                "work": kernel.work(m["size"]) * m["ntasks"],
                "unit": kernel.unit,
                "wall": s.wall,
                "cpu": s.cpu,
                "inner": s.inner,
                "first_run": s.first_run,
                "warmup_wall": s.warmup_wall,
                "stopped_on": s.stopped_on,
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
        "backend": prm["backend"],
        "p": p,
        "baseline": {
            "size": base["size"],
            "ntasks": base["ntasks"],
            "wall": b.wall,
            "cpu": b.cpu,
            "first_run": b.first_run,
            "check_ok": base_check.ok,
        },
        "startup_s": startup_s,
        "compile_s": compile_s,
        "inner_pools": pools,
        "pinned": {str(k): v for k, v in pinned.items()},
        "backend_info": info,
        "modes": out_modes,
    }


def paired_speedup(base: dict[str, Any], mode: dict[str, Any]) -> tuple[float, float, float]:
    """Median and 95% interval over rounds of the serial time of this mode's work (the
    baseline's time per task x the mode's tasks) over its parallel time in the same round."""
    scale = mode["ntasks"] / base["ntasks"]
    ratios = scale * np.asarray(base["wall"]) / np.asarray(mode["wall"])
    return median_ci(ratios)


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    from coresweep.analysis.scaling_models import karp_flatt

    rows = []
    for rec in records:
        r = rec["result"]
        base = r["baseline"]
        job_flags = ["low-capacity"] if r.get("job", {}).get("capacity_flag") else []
        base_flags = stability_flags(base["wall"], base["first_run"])
        if not base["check_ok"]:
            base_flags.append("check-failed")
        for m in r["modes"]:
            wall = np.asarray(m["wall"])
            s = summarize(wall)
            cpu_med = float(np.median(m["cpu"]))
            busy = cpu_med / s.median if s.median else float("nan")
            flags = stability_flags(wall, m["first_run"]) + job_flags
            if busy > r["p"] * 1.05:
                flags.append("oversubscribed")
            if not m["check_ok"]:
                flags.append("check-failed")
            speedup, lo, hi = paired_speedup(base, m)
            rows.append(
                {
                    "host": rec["provenance"]["machine"]["hostname"],
                    "kernel": r["kernel"],
                    "kind": r["kind"],
                    "backend": r["backend"],
                    "p": r["p"],
                    "mode": m["mode"],
                    "size": m["size"],
                    "ntasks": m["ntasks"],
                    "unit": m["unit"],
                    **s.time_columns(),
                    "time_iqr": s.iqr,
                    "outliers": s.outliers,
                    "cpu_median": cpu_med,
                    "busy_cores": busy,
                    "cpu_utilization": busy / r["p"],
                    "cpu_seconds_per_unit": cpu_med / m["work"],
                    "rate": m["work"] / s.median,
                    "speedup": speedup,
                    "speedup_ci_lo": lo,
                    "speedup_ci_hi": hi,
                    "speedup_rel_halfwidth": (hi - lo) / 2 / speedup,
                    "baseline_time_median": float(np.median(base["wall"])),
                    "baseline_flags": ";".join(base_flags),
                    "startup_s": r["startup_s"],
                    "compile_s": r["compile_s"],
                    "first_run": m["first_run"],
                    "inner": m["inner"],
                    "stopped_on": m["stopped_on"],
                    "check_ok": m["check_ok"],
                    "flags": ";".join(flags),
                    "point": rec["point"]["id"],
                    "provenance_hash": rec["provenance_hash"],
                }
            )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["efficiency"] = df.speedup / df.p
    df["efficiency_ci_lo"] = df.speedup_ci_lo / df.p
    df["efficiency_ci_hi"] = df.speedup_ci_hi / df.p
    df["karp_flatt"] = [karp_flatt(s, p) for s, p in zip(df.speedup, df.p, strict=True)]
    return df.sort_values(["host", "kernel", "mode", "backend", "p"]).reset_index(drop=True)


def verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    from coresweep.analysis.verdicts.scaling import scaling_verdicts

    return scaling_verdicts(table, machine)


def plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    from coresweep.report.plots.scaling import scaling_plots

    return scaling_plots(table, outdir, machine)


EXPERIMENT = Experiment(
    name=NAME,
    claims=("C1", "C2", "C11"),
    points=points,
    measure=measure,
    aggregate=aggregate,
    verdicts=verdicts,
    plots=plots,
    description="strong and weak scaling of every kernel under every backend",
)
