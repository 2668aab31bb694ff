"""Thread vs process context switches (claim C7): ping-pong between two parties.

A round trip hands control to the partner and back: two switches, so µs per switch is
the round trip / 2. Threads hand off through a pair of locks, a pair of events or an
os.pipe; processes (forked) through an os.pipe or a multiprocessing Pipe. Two pin modes:
"pinned" puts both parties on one CPU (every handoff is a real context switch),
"unpinned" lets the OS place them. The OS's own counts of voluntary and involuntary
switches are read from /proc around a separate counting run, outside the timed samples.

Scale: nothing grows with the node. Two parties use at most two cores, so the unpinned
point books two (one on a one-core node) and the pinned point one, on any node. Both pin
modes share one job: every partner is closed before the next point starts.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing as mp
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep.analysis.stats import stability_flags, summarize
from coresweep.analysis.verdict import Verdict
from coresweep.experiments.base import Experiment
from coresweep.experiments.common import (
    PROCESS_MB,
    RUNNER_SECONDS,
    check_tree,
    cpu_spec,
    job_flags,
    known_names,
    point_id,
    pool_size,
    sampling_seconds,
)
from coresweep.measure.cores import Node, affinity
from coresweep.measure.sampling import Protocol, sample_arms
from coresweep.measure.sched import choose_cpu, ctx_switches, pinned
from coresweep.records import Point

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "context_switch"
PIN_MODES = ("pinned", "unpinned")
QUIT = b"q"
#: predictions only: one round trip (two switches), and starting a partner
ROUND_TRIP_SECONDS = 2e-5
PARTNER_START_SECONDS = 0.02


# --- the two parties -------------------------------------------------------------------


def _echo_fd(rfd: int, wfd: int) -> None:
    """The partner's side of an os.pipe ping-pong: echo one byte until told to quit."""
    while (b := os.read(rfd, 1)) not in (QUIT, b""):
        os.write(wfd, b)


def _echo_conn(conn: Any) -> None:
    """The partner's side of a multiprocessing.Pipe ping-pong."""
    while (m := conn.recv_bytes()) != QUIT:
        conn.send_bytes(m)


class PingPong(ABC):
    """Two parties handing control back and forth; the partner starts inside `start`."""

    party: str  # "thread" or "process"

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def round_trips(self, n: int) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def partner_id(self) -> int:
        """The partner's thread id or process id (for affinity checks)."""


class LockPair(PingPong):
    """Two locks used as binary semaphores: release the partner's, block on your own."""

    party = "thread"

    def __init__(self) -> None:
        self.ping, self.pong = threading.Lock(), threading.Lock()
        self.ping.acquire()
        self.pong.acquire()
        self.stop = False
        self.thread = threading.Thread(target=self._partner, name="pingpong-lock", daemon=True)

    def _partner(self) -> None:
        while True:
            self.ping.acquire()
            if self.stop:
                return
            self.pong.release()

    def start(self) -> None:
        self.thread.start()

    def round_trips(self, n: int) -> None:
        ping, pong = self.ping, self.pong
        for _ in range(n):
            ping.release()
            pong.acquire()

    def close(self) -> None:
        self.stop = True
        with contextlib.suppress(RuntimeError):  # already released if interrupted mid-trip
            self.ping.release()
        self.thread.join(timeout=5)

    def partner_id(self) -> int:
        return self.thread.native_id or 0


class EventPair(PingPong):
    """threading.Event (a Condition inside): set the partner's, wait on your own."""

    party = "thread"

    def __init__(self) -> None:
        self.ping, self.pong = threading.Event(), threading.Event()
        self.stop = False
        self.thread = threading.Thread(target=self._partner, name="pingpong-event", daemon=True)

    def _partner(self) -> None:
        while True:
            self.ping.wait()
            self.ping.clear()
            if self.stop:
                return
            self.pong.set()

    def start(self) -> None:
        self.thread.start()

    def round_trips(self, n: int) -> None:
        ping, pong = self.ping, self.pong
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()

    def close(self) -> None:
        self.stop = True
        self.ping.set()
        self.thread.join(timeout=5)

    def partner_id(self) -> int:
        return self.thread.native_id or 0


class FdPipe(PingPong):
    """Two os.pipe()s; the partner is a thread or a forked process running `_echo_fd`."""

    def __init__(self, party: str) -> None:
        self.party = party
        self.to_r, self.to_w = os.pipe()
        self.back_r, self.back_w = os.pipe()
        args = (self.to_r, self.back_w)
        if party == "thread":
            self.partner: Any = threading.Thread(target=_echo_fd, args=args, daemon=True)
        else:
            self.partner = mp.get_context("fork").Process(target=_echo_fd, args=args, daemon=True)

    def start(self) -> None:
        self.partner.start()

    def round_trips(self, n: int) -> None:
        w, r = self.to_w, self.back_r
        for _ in range(n):
            os.write(w, b"x")
            os.read(r, 1)

    def close(self) -> None:
        os.write(self.to_w, QUIT)
        self.partner.join(timeout=5)
        if self.party == "process" and self.partner.is_alive():
            self.partner.kill()
            self.partner.join()
        for fd in (self.to_r, self.to_w, self.back_r, self.back_w):
            os.close(fd)

    def partner_id(self) -> int:
        return (self.partner.native_id if self.party == "thread" else self.partner.pid) or 0


class MpPipe(PingPong):
    """multiprocessing.Pipe() to a forked process: the standard way processes talk."""

    party = "process"

    def __init__(self) -> None:
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_echo_conn, args=(child,), daemon=True)
        self._child = child

    def start(self) -> None:
        self.proc.start()
        self._child.close()

    def round_trips(self, n: int) -> None:
        conn = self.conn
        for _ in range(n):
            conn.send_bytes(b"x")
            conn.recv_bytes()

    def close(self) -> None:
        self.conn.send_bytes(QUIT)
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()

    def partner_id(self) -> int:
        return self.proc.pid or 0


MECHANISMS = {
    "thread-lock": LockPair,
    "thread-event": EventPair,
    "thread-pipe": functools.partial(FdPipe, "thread"),
    "process-pipe": functools.partial(FdPipe, "process"),
    "process-mp-pipe": MpPipe,
}


# --- planning and measuring ------------------------------------------------------------


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    mechanisms = known_names(cfg["mechanisms"], list(MECHANISMS), f"{key}.mechanisms")
    pin_modes = known_names(cfg["pin_modes"], PIN_MODES, f"{key}.pin_modes")
    cpu = cpu_spec(cfg["cpu"], f"{key}.cpu")
    both = pool_size("auto", config["cores"], node, key)  # unpinned: up to 2 cores
    out = []
    for mode in pin_modes:
        params = {
            "pin": mode,
            "cpu": cpu,
            "mechanisms": mechanisms,
            "round_trips_per_call": cfg["round_trips_per_call"],
            "count_round_trips": cfg["count_round_trips"],
            # unpinned, the two parties may use two cores
            "threads": 1 if mode == "pinned" else min(2, both),
            "seed": config["seed"],
            "protocol": config["protocol"],
        }
        seconds, mb = predict(params)
        check_tree(mb, "the ping-pong partners", key, node)
        pid = point_id(mode, f"cpu-{cpu}" if mode == "pinned" else "all")
        out.append(Point(NAME, pid, params, job=NAME, seconds=seconds, mem_mb=mb))
    return out


def predict(prm: dict[str, Any]) -> tuple[float, int]:
    """Seconds and peak MB of one pin mode: partners start, every mechanism's calls sampled
    interleaved, the untimed counting runs; a forked partner per process mechanism."""
    mechs = prm["mechanisms"]
    call = prm["round_trips_per_call"] * ROUND_TRIP_SECONDS
    seconds = RUNNER_SECONDS + PARTNER_START_SECONDS * len(mechs)
    seconds += sampling_seconds([call] * len(mechs), prm["protocol"])
    seconds += len(mechs) * prm["count_round_trips"] * ROUND_TRIP_SECONDS
    forked = sum(m.startswith("process") for m in mechs)
    return seconds, PROCESS_MB * (1 + forked)


def _count(pp: PingPong, n: int) -> dict[str, float]:
    """OS context switches per round trip, both parties, from a run outside the timing."""
    pids = [os.getpid()] + ([pp.partner_id()] if pp.party == "process" else [])
    before = ctx_switches(pids)
    pp.round_trips(n)
    delta = ctx_switches(pids) - before
    return {"voluntary": delta.voluntary / n, "involuntary": delta.involuntary / n}


def measure(point: Point) -> dict[str, Any]:
    prm = point.params
    protocol = Protocol.from_config(prm["protocol"])
    cpus = {choose_cpu(prm["cpu"])} if prm["pin"] == "pinned" else set(affinity())
    n = prm["round_trips_per_call"]
    parties: dict[str, PingPong] = {}
    try:
        with pinned(cpus):  # partners started inside inherit the affinity
            for name in prm["mechanisms"]:
                parties[name] = MECHANISMS[name]()
                parties[name].start()
            placed = {
                name: sorted(os.sched_getaffinity(pp.partner_id())) for name, pp in parties.items()
            }
            arms = {name: functools.partial(pp.round_trips, n) for name, pp in parties.items()}
            samples = sample_arms(arms, protocol, prm["seed"])
            counts = {name: _count(pp, prm["count_round_trips"]) for name, pp in parties.items()}
    finally:
        for pp in parties.values():
            pp.close()
    out = []
    for name in prm["mechanisms"]:
        s = samples[name]
        out.append(
            {
                "mechanism": name,
                "party": parties[name].party,
                "partner_affinity": placed[name],
                "wall": s.wall,  # seconds per call of n round trips
                "cpu": s.cpu,
                "inner": s.inner,
                "first_run": s.first_run,
                "stopped_on": s.stopped_on,
                "ctx_per_round_trip": counts[name],
            }
        )
    return {
        "pin": prm["pin"],
        "cpus": sorted(cpus),
        "round_trips_per_call": n,
        "mechanisms": out,
    }


# --- tables, verdicts, plots -----------------------------------------------------------


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (pin mode, mechanism): µs per switch = wall / (2 x round trips)."""
    import pandas as pd

    rows = []
    for rec in records:
        r = rec["result"]
        per_switch = 1e6 / (2 * r["round_trips_per_call"])
        for m in r["mechanisms"]:
            wall = np.asarray(m["wall"])
            s = summarize(wall)
            flags = job_flags(r) + stability_flags(wall, m["first_run"])
            if r["pin"] == "pinned" and m["partner_affinity"] != r["cpus"]:
                flags.append("partner-not-pinned")
            rows.append(
                {
                    "pin": r["pin"],
                    "cpus": ",".join(map(str, r["cpus"])),
                    "mechanism": m["mechanism"],
                    "party": m["party"],
                    "round_trips_per_call": r["round_trips_per_call"],
                    "us_per_switch": s.median * per_switch,
                    "us_ci_lo": s.ci_lo * per_switch,
                    "us_ci_hi": s.ci_hi * per_switch,
                    **s.time_columns(),
                    "busy_cores": float(np.median(np.asarray(m["cpu"]) / wall)),
                    "voluntary_per_round_trip": m["ctx_per_round_trip"]["voluntary"],
                    "involuntary_per_round_trip": m["ctx_per_round_trip"]["involuntary"],
                    "stopped_on": m["stopped_on"],
                    "flags": ";".join(flags),
                    "point": rec["point"]["id"],
                    "provenance_hash": rec["provenance_hash"],
                    "wall_samples": wall.tolist(),  # for the ratio intervals of the verdict
                }
            )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    order = {m: i for i, m in enumerate(MECHANISMS)}
    df["_order"] = df.mechanism.map(order)
    return df.sort_values(["pin", "_order"]).drop(columns="_order").reset_index(drop=True)


def verdicts(table: pd.DataFrame, machine: str) -> list[Verdict]:
    from coresweep.analysis.verdicts.context_switch import context_switch_verdicts

    return context_switch_verdicts(table, machine)


def plots(table: pd.DataFrame, outdir: Path, machine: str) -> list[Path]:
    from coresweep.report.plots.context_switch import context_switch_plots

    return context_switch_plots(table, outdir, machine)


EXPERIMENT = Experiment(
    name=NAME,
    claims=("C7",),
    points=points,
    measure=measure,
    aggregate=aggregate,
    verdicts=verdicts,
    plots=plots,
    description="thread vs process ping-pong: µs per switch, pinned and unpinned",
)
