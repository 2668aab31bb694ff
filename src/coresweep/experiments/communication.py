"""Ping-pong latency and bandwidth between threads and between processes (claim C5).

For every transport (coresweep.measure.pingpong) and message size, round trips are sampled
with the shared protocol. Two points, local transports and Dask, in one job. A point opens
all its transports at once and samples them in the same rounds (small sizes and large ones
apart), so each process transport's ratio to its thread side is paired by round (a change
of the machine's speed cancels) and, where it straddles C5's bar, samples on until
decisive (`sample_arms(decide=...)`). Bandwidth follows the usual ping-pong definition:
message bytes / half the round trip.

Placement (`placement`): the local transports' echo partners are pinned against the sender,
by default on its CPU (`together`: what the transport itself costs). Unpinned, a small round
trip takes whichever placement the scheduler picked and keeps it for seconds: on a 2-CPU VM
an Event ping-pong takes 10-11 µs on one CPU and ~210 µs across two, so the same run could
compare a thread on one CPU with a process on two; `apart` pins that second case, whose
wake-up on a VM (an exit to the hypervisor) varies by tens of per cent between samples.
Dask places its own workers.

Scale: nothing grows with the node. A ping-pong has two parties, the sender and the echo,
so a point books two cores on any node (`apart` and Dask use both; `together` keeps the
second quiet); more would stay idle (the experiment measures latency and bandwidth between
two cores, not across the node).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep.config import ConfigError
from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import (
    PROCESS_MB,
    RUNNER_SECONDS,
    pool_mb,
    pool_start_seconds,
    sampling_seconds,
)
from coresweep.experiments.row_flags import job_flags
from coresweep.experiments.rows import arm_fields, point_id, row_tail
from coresweep.experiments.validation import check_memory, check_tree, core_counts
from coresweep.flags import Flag
from coresweep.measure.cores import Node, affinity
from coresweep.measure.pingpong import TRANSPORTS, Transport
from coresweep.measure.sampling import Decision, Protocol, sample_arms
from coresweep.measure.sched import pinned
from coresweep.records import Point, params_of
from coresweep.stats import paired_ratio_ci, stability_flags, summarize

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "communication"
#: jobs by transport family: the thread queue shares a job with the process transports it
#: is compared with (each job pays ~2 s to start Python and the runner); Dask has its own
JOBS = {"local": ("threads", "multiprocessing"), "dask": ("dask",)}
#: the thread-side reference each transport is compared with
THREAD_REF = {"multiprocessing": "thread-queue", "dask": "dask-threads"}
#: where an echo partner runs against the sender (config: placement): two CPUs, one CPU,
#: or unpinned
APART, TOGETHER, OS = "apart", "together", "os"
COPIES_IN_FLIGHT = 8  # payload, echoes, pickles and first/last outputs at the largest size
SMALL = 2**20  # sizes up to this are sampled together, the larger ones apart
#: predictions only, per family: round-trip latency (s), one-way bandwidth (bytes/s; the
#: thread queue passes a reference) and the start of the echo process or cluster
LATENCY = {"threads": 2e-5, "multiprocessing": 5e-5, "dask": 2e-3}
BANDWIDTH = {"threads": 1e12, "multiprocessing": 1e9, "dask": 2e8}
START = {"threads": 0.0, "multiprocessing": pool_start_seconds("processes-spawn", 1, 1)}


@dataclass(frozen=True)
class Params:
    """What one communication point measures: a group of transports over their sizes."""

    group: str  # the job's transport families (a key of JOBS)
    placement: str  # APART, TOGETHER or OS: where echo partners run against the sender
    transports: list[str]
    sizes: dict[str, list[int]]  # message sizes per transport
    start_method: str
    timeout_seconds: float
    sampling: dict[str, Any]  # the experiment's own protocol keys
    threads: int
    seed: int
    protocol: dict[str, Any]


def sizes_for(transport: str, sizes: Sequence[int], dask_max: int) -> list[int]:
    """Dask gets the ladder up to dask_max: a 64 MiB task argument takes seconds."""
    if TRANSPORTS[transport].family == "dask":
        return [s for s in sizes if s <= dask_max]
    return list(sizes)


def placement_of(asked: str, transports: Sequence[str], cores: int) -> str:
    """The placement a point runs: `os` where a transport's partner is not one thread or
    process it starts itself (Dask places its workers), `together` for `apart` on one core."""
    if not all(TRANSPORTS[t].own_partner for t in transports):
        return OS
    if asked == APART and cores < 2:
        log.warning("communication: one usable core, so the echo partners run on the sender's")
        return TOGETHER
    return asked


def placed_cpus(placement: str, cpus: Sequence[int]) -> tuple[int | None, int | None]:
    """(the sender's CPU, the partners' CPU) of a placement among usable cpus; None: unpinned."""
    if placement == OS:
        return None, None
    if placement == TOGETHER or len(cpus) < 2:
        return cpus[-1], cpus[-1]
    return cpus[-1], cpus[-2]


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    bad = [t for t in cfg["transports"] if t not in TRANSPORTS]
    if bad:
        raise ConfigError(
            f"config key {key}.transports: unknown {bad}; allowed: {list(TRANSPORTS)}"
        )
    sizes = sorted(cfg["sizes"])
    check_memory(
        COPIES_IN_FLIGHT * sizes[-1], f"messages of {sizes[-1]} bytes", f"{key}.sizes", node
    )
    # a ping-pong keeps two sides busy, the sender and the echo: two cores on any node
    cores = min(2, core_counts("auto", config["cores"], node, key)[-1])
    out = []
    for job, families in JOBS.items():
        transports = [t for t in cfg["transports"] if TRANSPORTS[t].family in families]
        if not transports:
            continue
        prm = Params(
            group=job,
            placement=placement_of(cfg["placement"], transports, cores),
            transports=transports,
            sizes={t: sizes_for(t, sizes, cfg["dask_max_bytes"]) for t in transports},
            start_method=cfg["start_method"],
            timeout_seconds=cfg["timeout_seconds"],
            sampling={
                "repeats": cfg["repeats"],
                "min_sample_seconds": cfg["min_sample_seconds"],
                "point_budget_seconds": cfg["budget_seconds"],
            },
            threads=cores,
            seed=config["seed"],
            protocol=config["protocol"],
        )
        seconds, mb = predict(prm)
        check_tree(mb, f"messages of {sizes[-1]} bytes", f"{key}.sizes", node)
        pid = point_id(job)
        out.append(Point(NAME, pid, params_of(prm), job=NAME, seconds=seconds, mem_mb=mb))
    return out


def _protocol(prm: Params) -> Protocol:
    """The point's protocol: the experiment's sampling keys, and a budget of the sum of its
    transports' budgets (they share one sampling call, so that each process transport and
    its thread side are sampled in the same rounds)."""
    pr = dataclasses.replace(Protocol.from_config(prm.protocol), **prm.sampling)
    return dataclasses.replace(
        pr, point_budget_seconds=pr.point_budget_seconds * len(prm.transports)
    )


def predict(prm: Params) -> tuple[float, int]:
    """Seconds and peak MB of one point: per transport its start, then the small and the
    large sizes sampled apart, all transports in the same rounds (latency plus both ways at
    the family's bandwidth), the echo check per size; memory: the copies in flight at the
    largest size, and every transport's echo (all are open at once)."""
    protocol = _protocol(prm)
    seconds, echoes, largest = RUNNER_SECONDS, 0.0, 0
    rtt = {}
    for name in prm.transports:
        fam, sizes = TRANSPORTS[name].family, prm.sizes[name]
        rtt.update({(name, s): LATENCY[fam] + 2 * s / BANDWIDTH[fam] for s in sizes})
        backend = getattr(TRANSPORTS[name], "backend", "processes-spawn")  # Dask's, or the echo
        seconds += START[fam] if fam in START else pool_start_seconds(backend, 1, 1)
        # every transport is open for the whole point: their echoes add up
        echoes += pool_mb(backend, 1) if TRANSPORTS[name].partner != "thread" else 0.0
        largest = max(largest, *sizes)
    seconds += sum(rtt.values())  # the echo check per size
    for small in (True, False):
        units = [u for (_, s), u in rtt.items() if (s <= SMALL) == small]
        seconds += sampling_seconds(units, dataclasses.asdict(protocol), decisive=True)
    peak = COPIES_IN_FLIGHT * largest / 1e6 + echoes
    return seconds, round(PROCESS_MB + peak)


def _payload(size: int, seed: int) -> bytes:
    """Random bytes: zero pages could be served from one cached page and flatter memcpy."""
    return np.random.default_rng([seed, size]).bytes(size)


def _arm(transport: str, size: int) -> str:
    return f"{transport}|{size}"


def _decisions(prm: Params, group: Sequence[int]) -> list[Decision]:
    """C5's ratios among these sizes: each process transport over its family's thread side
    in the same job, for the sizes both send."""
    out = []
    for name in prm.transports:
        ref = THREAD_REF.get(TRANSPORTS[name].family)
        if ref in (None, name) or ref not in prm.transports:
            continue
        shared = set(prm.sizes[name]) & set(prm.sizes[ref])
        out += [Decision(_arm(name, s), _arm(ref, s)) for s in group if s in shared]
    return out


def open_placed(
    stack: contextlib.ExitStack, prm: Params
) -> tuple[dict[str, Transport], int | None, int | None]:
    """The point's transports, open until the stack closes, their partners started on the
    placement's CPU (they inherit it) and the calling thread then pinned to the sender's;
    with the sender's and the partners' CPU (None: unpinned)."""
    sender, partners = placed_cpus(prm.placement, affinity())
    if partners is not None:
        stack.enter_context(pinned({partners}))
    open_ = {
        name: stack.enter_context(
            TRANSPORTS[name](max(prm.sizes[name]), prm.start_method, prm.timeout_seconds)
        )
        for name in prm.transports
    }
    if sender is not None:
        stack.enter_context(pinned({sender}))
    return open_, sender, partners


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    protocol = _protocol(prm)
    every = sorted({s for v in prm.sizes.values() for s in v})
    payloads = {s: _payload(s, prm.seed) for s in every}
    samples = {}
    with contextlib.ExitStack() as stack:
        open_, sender, partners = open_placed(stack, prm)
        # small sizes apart: in one round with a 64 MiB arm they would get only as many
        # samples as it does, though each of theirs costs microseconds
        for group in ([s for s in every if s <= SMALL], [s for s in every if s > SMALL]):
            arms = {
                _arm(name, s): functools.partial(t.round_trip, payloads[s])
                for name, t in open_.items()
                for s in prm.sizes[name]
                if s in group
            }
            if arms:
                samples.update(
                    sample_arms(
                        arms, protocol, prm.seed, together=True, decide=_decisions(prm, group)
                    )
                )
        ok = {(n, s): t.echoes(payloads[s]) for n, t in open_.items() for s in prm.sizes[n]}
    runs = []
    for name in prm.transports:
        cls = TRANSPORTS[name]
        for s in prm.sizes[name]:
            a = samples[_arm(name, s)]
            log.info("%s %d B: median round trip %.1f us", name, s, 1e6 * np.median(a.wall))
            runs.append(
                {
                    "transport": name,
                    "family": cls.family,
                    "kind": cls.partner,  # the side of the claim: what the echo partner is
                    "size": s,
                    **arm_fields(a, warmup=True),
                    "check_ok": ok[(name, s)],
                }
            )
    where = {"sender_cpu": sender, "partner_cpu": partners}
    return {"group": prm.group, "cores": prm.threads, "placement": prm.placement, **where,
            "runs": runs}  # fmt: skip


def _flags(run: dict[str, Any]) -> list[str]:
    """Stability flags on whole samples: each one repeats the round trip `inner` times."""
    inner = run["inner"]
    wall = np.asarray(run["wall"]) * inner
    flags = stability_flags(wall, run["first_run"] * inner)
    if not run["check_ok"]:
        flags.append(Flag.CHECK_FAILED.at())
    return flags


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    walls: dict[tuple[str, int], np.ndarray] = {}  # round trips by (transport, size)
    for rec in records:
        r = rec["result"]
        for run in r["runs"]:
            wall = walls[(run["transport"], run["size"])] = np.asarray(run["wall"])
            s = summarize(wall)
            bw = 2 * run["size"] / 1e9  # GB per round trip, counted one way
            rows.append(
                {
                    "transport": run["transport"],
                    "family": run["family"],
                    "kind": run["kind"],
                    "size": run["size"],
                    "cores": r["cores"],
                    "placement": r["placement"],
                    "inner": run["inner"],
                    **s.time_columns(),
                    "rtt_us": 1e6 * s.median,
                    "rtt_us_ci_lo": 1e6 * s.ci_lo,
                    "rtt_us_ci_hi": 1e6 * s.ci_hi,
                    "bandwidth_gbs": bw / s.median,
                    "bandwidth_gbs_ci_lo": bw / s.ci_hi,
                    "bandwidth_gbs_ci_hi": bw / s.ci_lo,
                    "first_run": run["first_run"],
                    "stopped_on": run["stopped_on"],
                    "check_ok": run["check_ok"],
                    **row_tail(rec, _flags(run), job_flags(r)),
                }
            )
    return _with_ratios(pd.DataFrame(rows), walls)


def _with_ratios(df: pd.DataFrame, walls: dict[tuple[str, int], np.ndarray]) -> pd.DataFrame:
    """Round trip relative to the thread-side reference of the same size (> 1: threads faster)."""
    import pandas as pd

    if df.empty:
        return df
    ratios = []
    for row in df.itertuples():
        ref = THREAD_REF.get(row.family)
        if ref in (None, row.transport) or (ref, row.size) not in walls:
            ratios.append(("", np.nan, np.nan, np.nan))
            continue
        # paired by round where both were sampled together (the same job)
        pair = paired_ratio_ci(walls[(row.transport, row.size)], walls[(ref, row.size)])
        ratios.append((ref, *pair))
    cols = ["thread_ref", "vs_thread", "vs_thread_ci_lo", "vs_thread_ci_hi"]
    df[cols] = pd.DataFrame(ratios, index=df.index, columns=cols)
    return df.sort_values(["family", "transport", "size"]).reset_index(drop=True)


EXPERIMENT = from_module(
    __name__,
    ("C5",),
    "ping-pong round trip and bandwidth by transport and message size",
)
