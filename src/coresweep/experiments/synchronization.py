"""Synchronization risks of threads sharing memory: lost updates, lock cost, deadlock (claim C12).

One job. p threads increment one shared counter without synchronization and with it:
pure Python with the read-modify-write inline or split by a function call, guarded by a
threading.Lock; a Numba nogil loop without atomics, and the lock-free alternative
(per-thread partial sums on separate cache lines; nopython code has no lock). Every call
records its final count, so the lost-update rate 1 - final/expected has a distribution;
the shared sampling protocol times the calls, giving the cost per increment. Then two
threads take two locks in opposite order behind a barrier; every acquire has a timeout,
so the deadlock is detected and reported, never left hanging.

Scale: `threads` stays 2 by default on any node. The pure-Python races run one thread at
a time under the GIL, so more cores change nothing there while every call grows with the
threads (p x python_increments, ~25 ms each); two nogil threads on two cores already lose
updates. A user who wants the whole node racing sets threads (the job then books the
granted cores, at most).
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numba
import numpy as np

from coresweep.experiments.base import from_module
from coresweep.experiments.estimates import (
    NUMBA_COMPILE_SECONDS,
    PROCESS_MB,
    RUNNER_SECONDS,
    sampling_seconds,
)
from coresweep.experiments.row_flags import job_flags
from coresweep.experiments.rows import arm_fields, point_id, source_columns
from coresweep.experiments.validation import check_tree, known_names
from coresweep.flags import Flag
from coresweep.measure.cores import Node
from coresweep.measure.sampling import Protocol, sample_arms
from coresweep.measure.timer import timed
from coresweep.records import Point, params_of
from coresweep.stats import rate_decided, ratio_ci, stability_flags, summarize, zero_of_n_needed

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("coresweep")
NAME = "synchronization"
MECHANISMS = ("python-inline", "python-call", "python-lock", "numba-unsync", "numba-partials")
#: a synchronized mechanism and the unsynchronized one doing the same work
BASELINE = {"python-lock": "python-call", "numba-partials": "numba-unsync"}
PAD = 8  # int64 slots per 64-byte cache line: partial sums never share a line
WHERE = 64  # length of the index array that keeps the compiler from fusing the increments
#: predictions only: seconds per increment (pure Python: ~0.5 us, threads one at a time;
#: Numba: a few ns, threads in parallel, slower on the shared line than on their own)
INCREMENT_SECONDS = {
    "python-inline": 4e-7,
    "python-call": 6e-7,
    "python-lock": 1.2e-6,
    "numba-unsync": 4e-9,
    "numba-partials": 1e-9,
}


@dataclass(frozen=True)
class Params:
    """The point: the racing threads, each mechanism's increments, the deadlock trials."""

    mechanisms: list[str]
    racing_threads: int
    python_increments: int
    numba_increments: int
    deadlock_trials: int
    rare_rate: float
    lock_timeout_seconds: float
    seed: int
    protocol: dict[str, Any]
    threads: int  # cores booked: the racing threads, at most the cores the node can give


def points(config: dict[str, Any], node: Node) -> list[Point]:
    cfg = config["experiments"][NAME]
    key = f"experiments.{NAME}"
    mechanisms = known_names(cfg["mechanisms"], MECHANISMS, f"{key}.mechanisms")
    prm = Params(
        mechanisms=mechanisms,
        racing_threads=cfg["threads"],
        python_increments=cfg["python_increments"],
        numba_increments=cfg["numba_increments"],
        deadlock_trials=cfg["deadlock_trials"],
        rare_rate=cfg["rare_rate"],
        lock_timeout_seconds=cfg["lock_timeout_seconds"],
        seed=config["seed"],
        protocol=config["protocol"],
        # the race needs threads, not cores: book only the cores the machine can give
        threads=min(cfg["threads"], node.cap),
    )
    seconds, mb = predict(prm)
    check_tree(mb, "the racing threads", key, node)
    pid = point_id(f"t{cfg['threads']}")
    return [Point(NAME, pid, params_of(prm), seconds=seconds, mem_mb=mb)]


def predict(prm: Params) -> tuple[float, int]:
    """Seconds and peak MB of the point: the Numba kernel's compile (or cache load), every
    mechanism's calls sampled interleaved (Python's threads add up, Numba's overlap), then
    the deadlock trials (an opposite-order trial waits about one lock timeout)."""
    p = prm.racing_threads
    units = [
        INCREMENT_SECONDS[m] * (prm.python_increments * p if m in PYTHON else prm.numba_increments)
        for m in prm.mechanisms
    ]
    decisive = bool(_decide(prm.mechanisms))
    seconds = RUNNER_SECONDS + NUMBA_COMPILE_SECONDS
    seconds += sampling_seconds(units, prm.protocol, decisive)
    # about: every unsynchronized mechanism called on to rare_rate's count (a race that loses
    # in every call decides within 3 calls; a rare one runs on, bounded by the budget)
    need = zero_of_n_needed(prm.rare_rate)
    budget = Protocol.from_config(prm.protocol).point_budget_seconds
    seconds += min(
        budget,
        sum(need * u for m, u in zip(prm.mechanisms, units, strict=True) if m not in BASELINE),
    )
    seconds += prm.deadlock_trials * (prm.lock_timeout_seconds + 0.01)
    return seconds, PROCESS_MB + round(p * 8 * PAD / 1e6)


def _decide(mechanisms: Sequence[str]) -> list[tuple[str, str]]:
    """The cost ratios (synchronized time / its unsynchronized baseline's) measured here."""
    return [(m, BASELINE[m]) for m in mechanisms if BASELINE.get(m) in mechanisms]


# --- the shared counter -------------------------------------------------------------------


def _read(counter: list[int]) -> int:
    return counter[0]


def _write(counter: list[int], value: int) -> None:
    counter[0] = value


def _python_inline(counter: list[int], n: int, lock: threading.Lock) -> None:
    for _ in range(n):
        x = counter[0]
        counter[0] = x + 1


def _python_call(counter: list[int], n: int, lock: threading.Lock) -> None:
    # a call between read and write: where the interpreter may switch threads
    for _ in range(n):
        x = _read(counter)
        _write(counter, x + 1)


def _python_lock(counter: list[int], n: int, lock: threading.Lock) -> None:
    for _ in range(n):
        with lock:
            x = _read(counter)
            _write(counter, x + 1)


@numba.njit(nogil=True, cache=True)
def _numba_bump(counts: np.ndarray, where: np.ndarray, n: int) -> None:  # pragma: no cover
    """n plain increments (load, add, store; no atomics) of counts[where[i]]."""
    m = where.size - 1
    for i in range(n):
        counts[where[i & m]] += 1


PYTHON = {"python-inline": _python_inline, "python-call": _python_call, "python-lock": _python_lock}


def _together(target: Callable[..., None], args: Sequence[tuple[Any, ...]]) -> None:
    """Run target once per argument tuple, each in its own thread, released at once."""
    barrier = threading.Barrier(len(args))

    def go(a: tuple[Any, ...]) -> None:
        barrier.wait()
        target(*a)

    threads = [threading.Thread(target=go, args=(a,), daemon=True) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def counter_call(mechanism: str, threads: int, n: int) -> Callable[[], int]:
    """One call = p threads x n increments from zero; returns the final count."""
    if mechanism in PYTHON:
        body, lock = PYTHON[mechanism], threading.Lock()

        def python_call() -> int:
            counter = [0]
            _together(body, [(counter, n, lock)] * threads)
            return counter[0]

        return python_call
    # unsynchronized: every thread bumps slot 0; partials: thread t its own cache line
    stride = PAD if mechanism == "numba-partials" else 0
    wheres = [np.full(WHERE, t * stride, dtype=np.intp) for t in range(threads)]

    def numba_call() -> int:
        counts = np.zeros(threads * PAD, dtype=np.int64)
        _together(_numba_bump, [(counts, w, n) for w in wheres])
        return int(counts.sum())

    return numba_call


def _recorded(fn: Callable[[], int], finals: list[int]) -> Callable[[], int]:
    def call() -> int:
        finals.append(fn())
        return finals[-1]

    return call


def _increments(prm: Params) -> dict[str, int]:
    """Increments per thread in one call of each mechanism."""
    return {
        m: prm.python_increments if m in PYTHON else prm.numba_increments for m in prm.mechanisms
    }


def call_until_shown(
    arms: dict[str, Callable[[], int]],
    finals: dict[str, list[int]],
    prm: Params,
    budget_s: float,
) -> dict[str, int]:
    """Call each unsynchronized mechanism on (untimed: its final counts only) until its
    racy-call rate's exact interval lies wholly below rare_rate (0 of 72 calls for 5%) or
    wholly above it (3 of 3), or budget_s is spent; returns the extra calls. A race that
    lost once in 63 calls is called on too: the rate, not the first loss, decides."""
    expected = {m: prm.racing_threads * n for m, n in _increments(prm).items()}
    end = time.monotonic() + budget_s
    extra = dict.fromkeys(arms, 0)

    def racy(m: str) -> int:
        return sum(f != expected[m] for f in finals[m])

    for m in (m for m in arms if m not in BASELINE):  # a synchronized one is timed only
        while not rate_decided(racy(m), len(finals[m]), prm.rare_rate) and time.monotonic() < end:
            arms[m]()
            extra[m] += 1
    return extra


# --- the deadlock -------------------------------------------------------------------------


def deadlock_trial(opposite: bool, timeout: float) -> dict[str, Any]:
    """Two threads, two locks, every acquire bounded by timeout; opposite order deadlocks.

    The barrier makes sure both hold their first lock before either asks for the second.
    """
    a, b = threading.Lock(), threading.Lock()
    barrier = threading.Barrier(2)
    failed_waits: list[float] = []

    def worker(first: threading.Lock, second: threading.Lock) -> None:
        if not first.acquire(timeout=timeout):
            failed_waits.append(timeout)
            return
        try:
            if opposite:
                barrier.wait(timeout)
            t0 = time.perf_counter()
            if second.acquire(timeout=timeout):
                second.release()
            else:
                failed_waits.append(time.perf_counter() - t0)
        except threading.BrokenBarrierError:
            failed_waits.append(timeout)
        finally:
            first.release()

    pairs = [(a, b), (b, a)] if opposite else [(a, b), (a, b)]
    workers = [threading.Thread(target=worker, args=p, daemon=True) for p in pairs]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join(4 * timeout + 1)
    return {
        "deadlocked": bool(failed_waits),
        "detect_s": min(failed_waits) if failed_waits else None,
        "hung": any(w.is_alive() for w in workers),
        "trial_s": time.perf_counter() - t0,
    }


def measure(point: Point) -> dict[str, Any]:
    prm = point.typed(Params)
    p = prm.racing_threads
    protocol = Protocol.from_config(prm.protocol)
    _, compile_t = timed(lambda: _numba_bump(np.zeros(1, np.int64), np.zeros(WHERE, np.intp), 1))
    increments = _increments(prm)
    finals: dict[str, list[int]] = {m: [] for m in prm.mechanisms}
    arms = {m: _recorded(counter_call(m, p, n), finals[m]) for m, n in increments.items()}
    # a lock's cost over the same unsynchronized work: sample on while it straddles its bar
    samples = sample_arms(arms, protocol, prm.seed, decide=_decide(prm.mechanisms))
    extra = call_until_shown(arms, finals, prm, protocol.point_budget_seconds)
    counters = [
        {
            "mechanism": m,
            "increments": n,
            "expected": p * n,
            "finals": finals[m],
            "untimed_calls": extra[m],
            **arm_fields(samples[m]),
        }
        for m, n in increments.items()
    ]
    timeout = prm.lock_timeout_seconds
    deadlocks = {
        order: [deadlock_trial(order == "opposite", timeout) for _ in range(prm.deadlock_trials)]
        for order in ("opposite", "same")
    }
    log.info(
        "deadlocks: opposite order %d/%d, same order %d/%d",
        sum(t["deadlocked"] for t in deadlocks["opposite"]),
        len(deadlocks["opposite"]),
        sum(t["deadlocked"] for t in deadlocks["same"]),
        len(deadlocks["same"]),
    )
    return {
        "threads": p,
        "python": platform.python_version(),
        "switch_interval_s": sys.getswitchinterval(),
        "compile_s": compile_t.wall,
        "counters": counters,
        "lock_timeout_s": timeout,
        "deadlocks": deadlocks,
    }


# --- table --------------------------------------------------------------------------------


def _counter_row(r: dict[str, Any], c: dict[str, Any], walls: dict[str, np.ndarray]) -> dict:
    lost = 1 - np.asarray(c["finals"], dtype=float) / c["expected"]
    wall = np.asarray(c["wall"])
    s = summarize(wall)
    per_op = 1e9 / c["expected"]
    synchronized = c["mechanism"] in BASELINE
    flags = stability_flags(wall, c["first_run"]) + job_flags(r)
    if synchronized and lost.max() > 0:
        flags.append(Flag.SYNCHRONIZED_BUT_LOST.at())
    base = BASELINE.get(c["mechanism"])
    cost = ratio_ci(wall, walls[base]) if base in walls else (np.nan,) * 3
    return {
        "kind": "counter",
        "mechanism": c["mechanism"],
        "language": c["mechanism"].split("-")[0],
        "synchronized": synchronized,
        "threads": r["threads"],
        "increments": c["increments"],
        "expected": c["expected"],
        "calls": len(lost),
        "racy_calls": int((lost > 0).sum()),
        "untimed_calls": c.get("untimed_calls", 0),  # called on to show the rate (not timed)
        "lost_rate": 1 - float(np.sum(c["finals"])) / (c["expected"] * len(lost)),
        "lost_rate_median": float(np.median(lost)),
        "lost_rate_max": float(lost.max()),
        **s.time_columns(),
        "ns_per_op": s.median * per_op,
        "ns_per_op_ci_lo": s.ci_lo * per_op,
        "ns_per_op_ci_hi": s.ci_hi * per_op,
        "baseline": base or "",
        "cost_vs_baseline": cost[0],
        "cost_vs_baseline_ci_lo": cost[1],
        "cost_vs_baseline_ci_hi": cost[2],
        "stopped_on": c["stopped_on"],
        "flags": ";".join(flags),
    }


def _deadlock_row(r: dict[str, Any], order: str, trials: list[dict[str, Any]]) -> dict:
    detect = [t["detect_s"] for t in trials if t["detect_s"] is not None]
    return {
        "kind": "deadlock",
        "mechanism": f"locks-{order}-order",
        "language": "python",
        "synchronized": True,
        "threads": 2,
        "trials": len(trials),
        "deadlocks": sum(t["deadlocked"] for t in trials),
        "hung": sum(t["hung"] for t in trials),
        "detect_ms_median": 1e3 * float(np.median(detect)) if detect else np.nan,
        "detect_ms_max": 1e3 * max(detect) if detect else np.nan,
        "lock_timeout_ms": 1e3 * r["lock_timeout_s"],
        "flags": ";".join(job_flags(r)),
    }


def aggregate(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for rec in records:
        r = rec["result"]
        walls = {c["mechanism"]: np.asarray(c["wall"]) for c in r["counters"]}
        out = [_counter_row(r, c, walls) for c in r["counters"]]
        out += [_deadlock_row(r, o, trials) for o, trials in r["deadlocks"].items()]
        meta = {
            "python": r["python"],
            "switch_interval_s": r["switch_interval_s"],
            **source_columns(rec),
        }
        rows += [row | meta for row in out]
    return pd.DataFrame(rows)


EXPERIMENT = from_module(
    __name__,
    ("C12",),
    "lost updates of an unsynchronized counter, lock cost, a deadlock under timeouts",
)
