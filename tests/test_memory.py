"""C4 memory experiment and the process-tree memory sampler, on tiny inputs."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from described import describe
from jobrecords import measured

from coresweep import config as cs_config
from coresweep.analysis.verdicts.record import VERDICTS
from coresweep.analysis.verdicts.registry import verdicts as verdicts_of
from coresweep.config import ConfigError
from coresweep.experiments import memory
from coresweep.experiments.estimates import TREE
from coresweep.measure import shared_input as si
from coresweep.measure.cores import Node
from coresweep.measure.memory import MIB, TreeMemorySampler, sample_for, scan_tree
from coresweep.report.plots.registry import plots as plots_of

INPUT_MIB = 16


def _config(**memory_cfg: object) -> dict:
    cfg = {"experiments": {"memory": memory_cfg}}
    return cs_config.validate(cfg)


def _leftovers(pid: int) -> list[str]:
    """Shared-memory segments and gate directories a process of this pid left behind."""
    shm = [f for f in os.listdir("/dev/shm") if f.startswith(f"coresweep-{pid}-")]
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    gates = [p.name for p in tmp.glob(f"coresweep-gates-{pid}-*")]
    return shm + gates


def _own_children() -> list[psutil.Process]:
    """Live children other than multiprocessing's per-interpreter helpers."""
    helpers = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")
    out = []
    for c in psutil.Process().children(recursive=True):
        try:
            if c.status() != psutil.STATUS_ZOMBIE and not any(
                h in " ".join(c.cmdline()) for h in helpers
            ):
                out.append(c)
        except psutil.NoSuchProcess:
            continue
    return out


def _hold_then_sleep(nbytes: int, conn: object) -> None:
    data = np.ones(nbytes // 8)
    conn.send(len(data))
    time.sleep(60)


def test_sampler_sees_a_child_allocate_and_survives_its_death():
    ctx = mp.get_context("fork")
    parent, child_end = ctx.Pipe()
    before = scan_tree(os.getpid())
    child = ctx.Process(target=_hold_then_sleep, args=(48 * MIB, child_end))
    child.start()
    try:
        assert parent.poll(30) and parent.recv()
        with TreeMemorySampler(hz=50) as sampler:
            time.sleep(0.1)
            child.kill()  # vanishes mid-sampling
            child.join()
            time.sleep(0.1)
        trace = sampler.trace
    finally:
        child.kill()
        child.join(5)
    assert trace is not None and len(trace.samples) >= 3
    ts = [s.t for s in trace.samples]
    assert ts == sorted(ts)
    assert trace.samples[0].nprocs == before.nprocs + 1
    assert trace.samples[-1].nprocs == before.nprocs
    # the child's 48 MiB are its own: data PSS holds them while it lives, not after
    # (USS cannot tell: after the fork, the parent's pages are shared and leave its USS)
    assert trace.samples[0].pss_data - trace.samples[-1].pss_data > 40 * MIB
    assert set(trace.to_dict()) >= {"t", "pss", "uss", "rss", "pss_data", "nprocs", "achieved_hz"}


def test_sampler_rejects_a_zero_rate_and_sample_for_returns_a_trace():
    with pytest.raises(ValueError, match="Hz"):
        TreeMemorySampler(hz=0)
    trace = sample_for(0.05, hz=40)
    assert len(trace.samples) >= 2 and trace.median("pss") > 0


def test_points_group_backends_into_jobs_and_add_oversubscribed_n():
    cfg = _config(input_mib=INPUT_MIB)
    pts = memory.points(cfg, Node.here(2))
    assert [p.id for p in pts] == [
        "threads__processes-fork",
        "processes-forkserver__processes-spawn",
        "loky",
        "dask-processes",
    ]
    assert pts[0].params["workers"] == [1, 2, 4]  # 1..P plus 2P
    assert pts[0].typed(memory.Params).backends == ["threads", "processes-fork"]
    assert pts[0].params["sharing"]["threads"] == ["none", "inherited"]
    assert pts[0].params["sharing"]["processes-fork"][-1] == "copied"  # copied runs last
    assert pts[2].params["sharing"]["loky"] == ["none", "shm", "copied"]
    assert pts[3].params["sharing"]["dask-processes"] == ["none", "shm"]
    assert all(p.params["threads"] == 2 for p in pts)


def test_sharing_modes_follow_the_descriptor_so_a_new_backend_needs_no_entry():
    from coresweep.backends import BACKENDS

    cfg = _config(input_mib=INPUT_MIB, backends=["process-pool", "loky", "dask-threads"])
    sharing = {
        b: m for p in memory.points(cfg, Node.here(2)) for b, m in p.params["sharing"].items()
    }
    assert sharing == {
        "process-pool": ["none", "shm", "copied"],
        "loky": ["none", "shm", "copied"],
        "dask-threads": ["none", "inherited"],
    }
    fork = BACKENDS["processes-fork"].descriptor
    assert memory.modes(fork) == ("none", "inherited", "shm", "copied")


def test_big_node_ladder_and_auto_input_bounded_by_the_copies():
    cfg = _config(oversubscribe_factors=[2], sharing=["none", "copied"])
    pts = memory.points(cfg, Node.sized(128, 256))
    assert pts[0].params["workers"] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    # auto input: 64 MiB, but the parent's array and 256 copies stay within 2 GiB
    assert pts[0].params["input_bytes"] == memory.AUTO_COPIES_MIB // 257 * 2**20
    # 256 Dask workers, each with its nanny (TREE.dask_worker, measured PSS) and its input
    assert pts[2].mem_mb > 256 * (TREE.dask_worker * 2**20 + pts[2].params["input_bytes"]) / 1e6
    assert all(p.job == "" for p in pts)  # three jobs: the job process is in the measured tree


def test_input_needing_more_than_half_the_memory_is_refused():
    cfg = _config(input_mib=10**8)
    with pytest.raises(ConfigError, match=r"experiments\.memory\.input_mib"):
        memory.points(cfg, Node.here(2))


def test_unknown_backend_and_sharing_mode_are_refused_naming_the_key():
    for name, needle in (("numba-parallel", "not supported"), ("mpi", "unknown backend")):
        with pytest.raises(ConfigError, match=rf"experiments\.memory\.backends: .*{needle}"):
            memory.points(_config(backends=[name]), Node.here(2))
    with pytest.raises(ConfigError, match=r"experiments\.memory\.sharing"):
        _config(sharing=["mmap"])


@pytest.fixture(scope="module")
def tiny_records():
    """One real job: threads and fork, N = 1, 2, 3, every mode they support."""
    cfg = _config(
        backends=["threads", "processes-fork"],
        oversubscribe_factors=[2, 3],
        input_mib=INPUT_MIB,
        scratch_mib=1,
        idle_seconds=0.05,
        work_seconds=0.05,
    )
    (point,) = memory.points(cfg, Node.here(1))  # one granted core: N = 1, 2, 3
    assert point.params["workers"] == [1, 2, 3]
    before = {c.pid for c in _own_children()}
    record = measured(memory, point)
    assert not _leftovers(os.getpid())
    assert not [c for c in _own_children() if c.pid not in before]
    return [record]


def test_measure_records_every_backend_mode_and_n(tiny_records):
    runs = tiny_records[0]["result"]["runs"]
    seen = {(r["backend"], r["sharing"], r["workers"]) for r in runs}
    assert len(seen) == len(runs) == 2 * 3 + 4 * 3
    for r in runs:
        assert r["busy_workers"] == r["workers"]
        if r["backend"] != "threads":
            assert r["holders"] == r["workers"]
            assert max(r["idle"]["nprocs"]) >= r["workers"] + 1


def test_copied_input_costs_its_size_per_worker_and_shared_input_does_not(tiny_records):
    table = describe(memory.aggregate(tiny_records))
    fits = table[table.state == "idle"].drop_duplicates(["backend", "sharing"])
    slope = fits.set_index(["backend", "sharing"])["pss_data_per_worker_mib"]
    base = slope[("processes-fork", "none")]
    assert slope[("processes-fork", "copied")] - base > 0.5 * INPUT_MIB
    assert slope[("processes-fork", "inherited")] - base < 0.5 * INPUT_MIB
    assert slope[("processes-fork", "shm")] - base < 0.5 * INPUT_MIB
    assert abs(slope[("threads", "inherited")]) < 0.5 * INPUT_MIB
    assert {"pss_mib", "uss_mib", "pss_data_mib", "flags", "pss_data_per_worker_ci_lo"} <= set(
        table.columns
    )


def test_verdict_and_plots_from_the_tiny_run(tiny_records, tmp_path):
    table = describe(memory.aggregate(tiny_records))
    (v,) = verdicts_of("memory", table, "test machine")
    assert v.claim == "C4" and v.verdict in VERDICTS
    # a copied input is duplicated, an inherited one is not: never all, never none
    assert v.verdict == "conditional"
    assert "copied" in v.conditions and "test machine" in v.conditions
    paths = plots_of("memory", table, tmp_path, "test machine")
    assert [p.name for p in paths] == ["memory_tree.svg", "memory_per_worker.svg"]
    for p in paths:
        assert p.read_text().lstrip().startswith("<?xml") and "<svg" in p.read_text()[:500]


def test_two_n_values_give_no_interval_and_an_inconclusive_verdict(tiny_records):
    records = json.loads(json.dumps(tiny_records))
    runs = records[0]["result"]["runs"]
    records[0]["result"]["runs"] = [r for r in runs if r["workers"] < 3]
    table = describe(memory.aggregate(records))
    assert table.pss_data_per_worker_ci_lo.isna().all()
    assert table["flags"].str.contains("fit<3-levels").all()
    (v,) = verdicts_of("memory", table, "m")
    assert v.verdict == "inconclusive"


def test_sigterm_mid_run_leaves_no_segment_children_or_gates(tmp_path):
    cfg = _config(
        backends=["processes-fork"],
        sharing=["shm"],
        input_mib=INPUT_MIB,
        idle_seconds=2,
        work_seconds=2,
    )
    (point,) = memory.points(cfg, Node.here(1))
    out = tmp_path / "raw" / f"{point.id}.json"
    spec = point.to_json()
    cmd = [sys.executable, "-m", "coresweep.cli", "measure", "--spec", spec, "--raw-dir"]
    cmd += [str(out.parent)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    # the idle window has begun once the pool's workers exist
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _leftovers(proc.pid):
        time.sleep(0.05)
    assert _leftovers(proc.pid), "the job never created its segment"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert not out.exists()
    assert not _leftovers(proc.pid)
    # forked workers carry the job's command line, which names this test's output file
    orphans = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if str(out) in " ".join(p.info["cmdline"] or [])
    ]
    assert not orphans


def test_gate_fails_loudly_when_a_worker_is_missing(tmp_path):
    with si.gates(0.2) as gate:
        g = gate(2)
        with pytest.raises(TimeoutError, match="only 1 of 2 workers"):
            g.wait()
