"""Thread vs process context switches (claim C7): ping-pong between two parties.

A round trip hands control to the partner and back: two switches, so µs per switch is
the round trip / 2. The parties are ping-pong transports from the one registry
(coresweep.measure.pingpong, which the communication experiment also uses), timed by their
`count(n)` loop of one-byte messages: threads hand off through a pair of locks, a pair of
events or an os.pipe; processes (forked) through an os.pipe or a multiprocessing Pipe. Each
transport declares its partner ("thread" or "process"), recorded as the `party` column, and
the `transport` column names what carries the handoff: thread-pipe and process-pipe share
one (an os.pipe pair, "os-pipe"), so C7 decides on their ratio, like with like; it is sampled
on while it straddles its bar (`sample_arms(decide=...)`).
Two pin modes:
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
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import PROCESS_MB, RUNNER_SECONDS, sampling_seconds
from coresweep.experiments.row_flags import job_flags
from coresweep.experiments.rows import arm_fields, point_id, row_tail
from coresweep.experiments.validation import check_tree, cpu_spec, known_names, pool_size
from coresweep.flags import Flag
from coresweep.measure.cores import Node, affinity
from coresweep.measure.pingpong import TRANSPORTS, Transport
from coresweep.measure.sampling import Protocol, sample_arms
from coresweep.measure.sched import choose_cpu, ctx_switches, pinned
from coresweep.records import Point, params_of
from coresweep.stats import stability_flags, summarize

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "context_switch"
PIN_MODES = ("pinned", "unpinned")
#: predictions only: one round trip (two switches), and starting a partner
ROUND_TRIP_SECONDS = 2e-5
PARTNER_START_SECONDS = 0.02
#: the mechanisms, in table order: transports whose partner is one thread or process of ours
#: (it inherits the pinning, and /proc counts its switches)
MECHANISMS = ("thread-lock", "thread-event", "thread-pipe", "process-pipe", "process-mp-pipe")
#: what carries the handoff (the table's `transport`): thread-pipe and process-pipe share one,
#: an os.pipe pair, so their ratio compares like with like; every other mechanism is its own
SHARED_TRANSPORT = {"thread-pipe": "os-pipe", "process-pipe": "os-pipe"}
#: the ratio that decides C7 on one transport: process time / thread time over the os.pipe pair
DECIDING = ("process-pipe", "thread-pipe")
#: process partners fork: they inherit the caller's CPU affinity at once
START_METHOD = "fork"
TIMEOUT_SECONDS = 60.0  # a round trip outside the timed count loop waits at most this long


@dataclass(frozen=True)
class Params:
    """What one context-switch point measures: every mechanism under one pin mode."""

    pin: str  # one of PIN_MODES
    cpu: int | str  # the CPU spec of the pinned mode (`choose_cpu` reads it)
    mechanisms: list[str]
    round_trips_per_call: int
    count_round_trips: int
    threads: int
    seed: int
    protocol: dict[str, Any]


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
        prm = Params(
            pin=mode,
            cpu=cpu,
            mechanisms=mechanisms,
            round_trips_per_call=cfg["round_trips_per_call"],
            count_round_trips=cfg["count_round_trips"],
            # unpinned, the two parties may use two cores
            threads=1 if mode == "pinned" else min(2, both),
            seed=config["seed"],
            protocol={**config["protocol"], **cfg["protocol"]},
        )
        seconds, mb = predict(prm)
        check_tree(mb, "the ping-pong partners", key, node)
        pid = point_id(mode, f"cpu-{cpu}" if mode == "pinned" else "all")
        out.append(Point(NAME, pid, params_of(prm), job=NAME, seconds=seconds, mem_mb=mb))
    return out


def predict(prm: Params) -> tuple[float, int]:
    """Seconds and peak MB of one pin mode: partners start, every mechanism's calls sampled
    interleaved, the untimed counting runs; a forked partner per process mechanism."""
    mechs = prm.mechanisms
    call = prm.round_trips_per_call * ROUND_TRIP_SECONDS
    seconds = RUNNER_SECONDS + PARTNER_START_SECONDS * len(mechs)
    seconds += sampling_seconds([call] * len(mechs), prm.protocol, bool(_decide(mechs)))
    seconds += len(mechs) * prm.count_round_trips * ROUND_TRIP_SECONDS
    forked = sum(TRANSPORTS[m].partner == "process" for m in mechs)
    return seconds, PROCESS_MB * (1 + forked)


def transport(mechanism: str) -> str:
    """What carries a mechanism's messages: "os-pipe" for both pipe mechanisms."""
    return SHARED_TRANSPORT.get(mechanism, mechanism)


def _decide(mechanisms: Sequence[str]) -> list[tuple[str, str]]:
    """The deciding ratio when both of its mechanisms are measured."""
    return [DECIDING] if set(DECIDING) <= set(mechanisms) else []


def _count(pp: Transport, n: int) -> dict[str, float]:
    """OS context switches per round trip, both parties, from a run outside the timing."""
    pids = [os.getpid()] + ([pp.partner_id()] if pp.partner == "process" else [])
    before = ctx_switches(pids)
    pp.count(n)
    delta = ctx_switches(pids) - before
    return {"voluntary": delta.voluntary / n, "involuntary": delta.involuntary / n}


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    protocol = Protocol.from_config(prm.protocol)
    cpus = {choose_cpu(prm.cpu)} if prm.pin == "pinned" else set(affinity())
    n = prm.round_trips_per_call
    parties: dict[str, Transport] = {}
    # every partner stops when the stack closes, also on an error or Ctrl-C
    with contextlib.ExitStack() as stack, pinned(cpus):  # partners inherit the affinity
        for name in prm.mechanisms:
            transport = TRANSPORTS[name](1, START_METHOD, TIMEOUT_SECONDS)
            parties[name] = stack.enter_context(transport)
        placed = {
            name: sorted(os.sched_getaffinity(pp.partner_id())) for name, pp in parties.items()
        }
        arms = {name: functools.partial(pp.count, n) for name, pp in parties.items()}
        # in the same rounds: the verdict pairs them round by round (paired_ratio_ci)
        decide = _decide(prm.mechanisms)
        samples = sample_arms(arms, protocol, prm.seed, together=True, decide=decide)
        counts = {name: _count(pp, prm.count_round_trips) for name, pp in parties.items()}
    out = []
    for name in prm.mechanisms:
        s = samples[name]
        out.append(
            {
                "mechanism": name,
                "party": parties[name].partner,
                "partner_affinity": placed[name],
                **arm_fields(s),  # wall: seconds per call of n round trips
                "ctx_per_round_trip": counts[name],
            }
        )
    return {
        "pin": prm.pin,
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
                flags.append(Flag.PARTNER_NOT_PINNED.at())
            rows.append(
                {
                    "pin": r["pin"],
                    "cpus": ",".join(map(str, r["cpus"])),
                    "mechanism": m["mechanism"],
                    "party": m["party"],
                    "transport": transport(m["mechanism"]),
                    "round_trips_per_call": r["round_trips_per_call"],
                    "us_per_switch": s.median * per_switch,
                    "us_ci_lo": s.ci_lo * per_switch,
                    "us_ci_hi": s.ci_hi * per_switch,
                    **s.time_columns(),
                    "busy_cores": float(np.median(np.asarray(m["cpu"]) / wall)),
                    "voluntary_per_round_trip": m["ctx_per_round_trip"]["voluntary"],
                    "involuntary_per_round_trip": m["ctx_per_round_trip"]["involuntary"],
                    "stopped_on": m["stopped_on"],
                    **row_tail(rec, flags),
                    "wall_samples": wall.tolist(),  # for the ratio intervals of the verdict
                }
            )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    order = {m: i for i, m in enumerate(MECHANISMS)}
    df["_order"] = df.mechanism.map(order)
    return df.sort_values(["pin", "_order"]).drop(columns="_order").reset_index(drop=True)


EXPERIMENT = from_module(
    __name__,
    ("C7",),
    "thread vs process ping-pong: µs per switch, pinned and unpinned",
)
