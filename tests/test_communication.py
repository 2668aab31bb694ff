"""C5 communication experiment: transports, a tiny real run, the crossover rule."""

from __future__ import annotations

import os
import threading

import numpy as np
import pandas as pd
import psutil
import pytest
from jobrecords import measured

from coresweep import config as cs_config
from coresweep.analysis.verdicts.record import VERDICTS
from coresweep.analysis.verdicts.registry import verdicts as verdicts_of
from coresweep.config import ConfigError
from coresweep.experiments import communication
from coresweep.measure.cores import Node
from coresweep.measure.pingpong import TRANSPORTS
from coresweep.report.plots.registry import plots as plots_of
from coresweep.units import fmt_bytes

SIZES = [8, 65536]


def _config(**comm: object) -> dict:
    return cs_config.validate({"experiments": {"communication": comm}})


def _segments() -> list[str]:
    return [f for f in os.listdir("/dev/shm") if f.startswith(f"coresweep-{os.getpid()}-")]


def _echo_processes() -> set[int]:
    """Live children, minus multiprocessing's resource tracker (it lives as long as we do)."""
    return {
        c.pid
        for c in psutil.Process().children()
        if c.is_running()
        and c.status() != psutil.STATUS_ZOMBIE
        and "resource_tracker" not in " ".join(c.cmdline())
    }


LOCAL = [name for name, t in TRANSPORTS.items() if t.family != "dask"]


@pytest.mark.parametrize("name", LOCAL)
def test_every_local_transport_echoes_the_message_intact_and_cleans_up(name):
    """One interface for both ping-pong experiments: messages of any size (C5) and the
    one-byte count loop (C7), a partner of the declared kind, nothing left behind."""
    payload = np.random.default_rng(1).bytes(1 << 20)
    before, threads = _echo_processes(), threading.active_count()
    with TRANSPORTS[name](1 << 20, "fork", timeout=30) as t:
        assert t.echoes(payload)
        assert t.echoes(b"12345678")
        t.round_trip(payload)
        t.count(50)
        assert t.partner in ("thread", "process") and t.own_partner
        pid = t.partner_id()
        mine = pid in _echo_processes() if t.partner == "process" else pid != os.getpid()
        assert pid > 0 and mine
    assert not _segments()
    assert _echo_processes() <= before
    assert threading.active_count() <= threads + (name == "mp-queue")  # its feeder ends late


@pytest.mark.parametrize("name", LOCAL)
def test_an_interrupted_transport_stops_its_partner(name):
    before = _echo_processes()
    with pytest.raises(KeyboardInterrupt), TRANSPORTS[name](1 << 20, "fork", timeout=30) as t:
        t.round_trip(b"x" * 1024)
        raise KeyboardInterrupt
    assert not _segments()
    assert _echo_processes() <= before


def test_dask_threads_transport_round_trips_through_a_task():
    with TRANSPORTS["dask-threads"](1024, timeout=60) as t:
        assert t.echoes(b"x" * 1024)


def test_points_make_one_job_per_family_and_cap_dask_sizes():
    pts = communication.points(_config(), Node.here(2))
    assert [p.id for p in pts] == ["local", "dask"]
    local, dask = (p.typed(communication.Params) for p in pts)
    assert local.transports[0] == "thread-queue"
    assert local.sizes["mp-queue"][-1] == 64 * 2**20
    assert dask.sizes["dask-processes"][-1] == 16 * 2**20
    assert local.threads == dask.threads == 2


def test_messages_needing_too_much_memory_are_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"experiments\.communication\.sizes"):
        communication.points(_config(sizes=[2**44]), Node.here(2))
    with pytest.raises(ConfigError, match=r"experiments\.communication\.transports"):
        _config(transports=["carrier-pigeon"])


@pytest.fixture(scope="module")
def tiny_table():
    cfg = _config(
        transports=["thread-queue", "mp-pipe", "mp-queue", "shm-event"],
        sizes=SIZES,
        start_method="fork",
        min_sample_seconds=0.002,
        budget_seconds=0.2,
    )
    cfg["protocol"]["max_repeats"] = 4
    records = []
    for point in communication.points(cfg, Node.here(2)):
        records.append(measured(communication, point))
    assert not _segments()
    return communication.aggregate(records)


def test_tiny_run_gives_round_trips_bandwidth_and_ratios(tiny_table):
    t = tiny_table
    assert len(t) == 4 * len(SIZES)
    assert t.check_ok.all()
    assert (t.rtt_us > 0).all() and (t.n >= 3).all()
    np.testing.assert_allclose(t.bandwidth_gbs, 2 * t["size"] / (t.rtt_us * 1e-6) / 1e9)
    procs = t[t.kind == "process"]
    assert (procs.thread_ref == "thread-queue").all() and procs.vs_thread.notna().all()
    assert t[t.kind == "thread"].vs_thread.isna().all()
    # all transports of a size were sampled in the same rounds: paired ratios
    assert (t.groupby("size").n.nunique() == 1).all()
    assert {"time_median", "time_ci_lo", "time_ci_hi", "time_rel_halfwidth", "flags"} <= set(t)


def test_tiny_run_gives_a_verdict_and_a_log_log_plot(tiny_table, tmp_path):
    (v,) = verdicts_of("communication", tiny_table, "test machine")
    assert v.claim == "C5" and v.verdict in VERDICTS
    assert "not measured" in v.conditions and "test machine" in v.conditions
    (path,) = plots_of("communication", tiny_table, tmp_path, "test machine")
    assert path.name == "communication_latency.svg" and "<svg" in path.read_text()[:500]


def _row(transport: str, kind: str, size: int, rtt: float, ratio: float) -> dict:
    half = 0.01 * ratio
    return {
        "transport": transport,
        "family": "threads" if kind == "thread" else "multiprocessing",
        "kind": kind,
        "size": size,
        "cores": 2,
        "rtt_us": rtt,
        "rtt_us_ci_lo": rtt * 0.99,
        "rtt_us_ci_hi": rtt * 1.01,
        "bandwidth_gbs": 2 * size / rtt / 1e3,
        "thread_ref": "" if kind == "thread" else "thread-queue",
        "vs_thread": np.nan if kind == "thread" else ratio,
        "vs_thread_ci_lo": np.nan if kind == "thread" else ratio - half,
        "vs_thread_ci_hi": np.nan if kind == "thread" else ratio + half,
    }


def test_verdict_states_the_crossover_where_threads_pull_ahead():
    rows = []
    for size, proc_ratio in ((8, 0.8), (1024, 1.0), (2**20, 3.0), (2**26, 100.0)):
        rows.append(_row("thread-queue", "thread", size, 30.0, np.nan))
        rows.append(_row("shm-event", "process", size, 30.0 * proc_ratio, proc_ratio))
        rows.append(_row("mp-pipe", "process", size, 60.0 * proc_ratio, 2 * proc_ratio))
    (v,) = verdicts_of("communication", pd.DataFrame(rows), "m")
    assert v.verdict == "conditional"
    assert "as fast up to 1 KiB; threads pull ahead from 1 MiB" in v.conditions
    assert "shm-event" in v.evidence  # the fastest process transport is the one compared


def test_size_labels_use_binary_units():
    assert [fmt_bytes(s) for s in (8, 1024, 65536, 3 * 2**19, 2**26)] == [
        "8 B",
        "1 KiB",
        "64 KiB",
        "1.5 MiB",
        "64 MiB",
    ]


def test_placements_name_the_sender_and_partner_cpus():
    place = communication.placed_cpus
    assert place("os", [0, 1]) == (None, None)
    assert place("together", [0, 1, 2, 3]) == (3, 3)
    assert place("apart", [0, 1, 2, 3]) == (3, 2)
    assert place("apart", [5]) == (5, 5)


def test_dask_is_placed_by_the_scheduler_and_one_core_runs_apart_together():
    assert communication.placement_of("together", ["dask-threads"], 2) == "os"
    assert communication.placement_of("apart", ["thread-queue", "shm-event"], 1) == "together"
    assert communication.placement_of("apart", ["thread-queue", "shm-event"], 2) == "apart"
    local, dask = (p.typed(communication.Params) for p in communication.points(_config(), Node.here(2)))  # fmt: skip
    assert (local.placement, dask.placement) == ("together", "os")  # the default


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="apart needs two CPUs")
@pytest.mark.parametrize("placement", ["together", "apart"])
def test_echo_partners_run_where_the_placement_puts_them(placement):
    import contextlib

    cfg = _config(transports=["thread-queue", "shm-event"], sizes=[8], placement=placement)
    (prm,) = (p.typed(communication.Params) for p in communication.points(cfg, Node.here(2)))
    before = os.sched_getaffinity(0)
    with contextlib.ExitStack() as stack:
        open_, sender, partners = communication.open_placed(stack, prm)
        assert os.sched_getaffinity(0) == {sender}
        # a thread's native id and a process's pid both name a task whose affinity Linux keeps
        assert {n: os.sched_getaffinity(t.partner_id()) for n, t in open_.items()} == {
            "thread-queue": {partners},
            "shm-event": {partners},
        }
        assert (sender == partners) == (placement == "together")
    assert os.sched_getaffinity(0) == before
