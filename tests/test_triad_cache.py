"""The memory-bound kernel measures memory (issue 21): STREAM's rule at every p.

The last-level cache comes from sysfs (a fake tree here); planning 4 to 128 cores with
32-512 MiB of LLC keeps each triad array >= 4x the cache the point's cores reach, with ONE
strong total at every p and a weak share per worker; a node too small is refused naming
the key, the p and the memory; an in-cache size runs only when allowed, and is flagged.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from jobrecords import job_record

from coresweep import config as cfg
from coresweep.config import ConfigError
from coresweep.experiments import NAMES, scaling
from coresweep.kernels import get_kernel
from coresweep.kernels.stream import held_elements
from coresweep.measure import cache
from coresweep.measure.cores import Node
from coresweep.records import Point

MIB = 2**20


def _sysfs(root: Path, cpus: int, per_domain: int, l3: str) -> Path:
    """A fake /sys/devices/system/cpu: L1d, L1i, L2 per CPU, an L3 per `per_domain` CPUs."""
    for cpu in range(cpus):
        first = cpu - cpu % per_domain
        caches = [
            (1, "Data", "48K", str(cpu)),
            (1, "Instruction", "32K", str(cpu)),
            (2, "Unified", "2048K", str(cpu)),
            (3, "Unified", l3, f"{first}-{first + per_domain - 1}"),
        ]
        for i, (level, kind, size, shared) in enumerate(caches):
            d = root / f"cpu{cpu}" / "cache" / f"index{i}"
            d.mkdir(parents=True)
            for name, text in (("level", level), ("type", kind), ("size", size),
                               ("shared_cpu_list", shared)):  # fmt: skip
                (d / name).write_text(f"{text}\n")
    return root


def test_llc_is_read_from_sysfs_per_domain_of_the_usable_cpus(tmp_path):
    root = _sysfs(tmp_path, cpus=16, per_domain=8, l3="32768K")
    llc = cache.read_llc(range(16), root)
    assert [(d.level, d.size_bytes, d.cpus) for d in llc.domains] == [
        (3, 32 * MIB, tuple(range(8))),
        (3, 32 * MIB, tuple(range(8, 16))),
    ]
    assert [llc.reach_bytes(p) for p in (1, 2, 16)] == [32 * MIB, 64 * MIB, 64 * MIB]
    # affinity on one domain only: its CPUs, one domain's cache at any p
    one = cache.read_llc([9, 10], root)
    assert [d.cpus for d in one.domains] == [(9, 10)] and one.reach_bytes(2) == 32 * MIB


def test_reach_is_the_per_core_view_at_p1_and_the_sum_of_domains_above():
    llc = cache.uniform(8, 32 * MIB).tiled(64)
    assert len(llc.domains) == 8
    assert [llc.reach_bytes(p) for p in (1, 2, 8, 64)] == [32 * MIB, 64 * MIB, 256 * MIB, 256 * MIB]
    assert cache.parse_size("491520K") == 480 * MIB
    assert cache.parse_cpu_list("0-2,5,7-8") == (0, 1, 2, 5, 7, 8)


def test_provenance_records_the_llc():
    from coresweep.measure import provenance

    machine = provenance.collect()["machine"]
    assert machine["last_level_cache"] == cache.here().to_dict()


def _conf(**scaling_kw) -> dict:
    others = {name: {"enabled": False} for name in NAMES if name != "scaling"}
    kw = {"kernels": ["triad"], "backends": ["threads", "processes-spawn", "numba-parallel"],
          "kernel_backends": {}}  # fmt: skip
    return cfg.validate({"experiments": {**others, "scaling": {**kw, **scaling_kw}}})


#: (cores, cores per LLC domain, MiB per domain): 32, 64, 256 and 512 MiB in all
NODES = [(4, 4, 32), (16, 8, 32), (64, 8, 32), (128, 32, 128)]


@pytest.mark.parametrize(("n", "per", "mib"), NODES)
def test_every_p_keeps_each_array_4x_the_cache_its_cores_reach(monkeypatch, n, per, mib):
    monkeypatch.setattr(cache, "here", lambda: cache.uniform(per, mib * MIB))
    llc = cache.uniform(per, mib * MIB).tiled(n)
    assert llc.total_bytes in (32 * MIB, 64 * MIB, 256 * MIB, 512 * MIB)
    pts = scaling.points(_conf(kernel_modes={}), Node.sized(n, 4 * n))
    ps = sorted({pt.params["p"] for pt in pts})
    assert ps[-1] == n
    totals = set()
    for pt in pts:
        p, strong, weak = pt.params["p"], pt.params["modes"]["strong"], pt.params["modes"]["weak"]
        total = strong["size"] * strong["slots"]  # elements per array, held in chunks
        totals.add(total)
        assert 8 * total >= 4 * llc.reach_bytes(n) >= 4 * llc.reach_bytes(p)
        assert 8 * weak["size"] * weak["slots"] // p >= 4 * llc.reach_bytes(1)  # per worker
        # a sample takes a quarter of the chunks (samples_per_sweep: 4): one LLC per array
        assert strong["slots"] == 4 * strong["ntasks"] and weak["slots"] == 4 * weak["ntasks"]
        assert 8 * strong["size"] * strong["ntasks"] >= llc.reach_bytes(n)
        assert pt.params["baseline"] == strong  # the reference sweeps the whole strong array
        arrays = pt.params["arrays"]
        assert arrays["llc_bytes"] == llc.reach_bytes(n) and not arrays["in_cache"]
        if pt.params["backend"] == "processes-spawn":
            # the job's reference arrays + each worker's share (strong and weak in one set)
            share = max(held_elements(strong["size"], strong["slots"] // p),
                        held_elements(weak["size"], weak["slots"] // p))  # fmt: skip
            assert arrays["job_bytes"] == 24 * total
            assert arrays["worker_bytes"] == 24 * share
        else:  # threads and prange: chunks of the job's arrays, which hold the weak total too
            assert arrays["worker_bytes"] == 0
            assert arrays["job_bytes"] == 24 * max(total, weak["size"] * weak["slots"])
    assert len(totals) == 1  # ONE fixed strong total at every p


def test_a_node_too_small_is_refused_naming_the_key_p_and_memory(monkeypatch):
    monkeypatch.setattr(cache, "here", lambda: cache.uniform(32, 512 * MIB))
    # 4 x 512 MiB x 3 arrays = 6 GiB in the job, + 6 GiB in a spawned worker: 12 GiB > 80% of 8
    with pytest.raises(
        cfg.ConfigError,
        match=r"config key experiments\.scaling\.sizes\.triad: kernel triad on "
        r"processes-spawn with p=1 \(strong; each array >= 4x the last-level cache of the "
        r"cores\) needs 12\.2 GiB, more than 80% of the 8\.0 GiB of the node",
    ):
        scaling.points(_conf(backends=["processes-spawn"]), Node.sized(32, 8))


def test_an_in_cache_size_is_refused_unless_allowed_and_then_flagged(monkeypatch):
    monkeypatch.setattr(cache, "here", lambda: cache.uniform(2, 32 * MIB))
    small = _conf(backends=["threads"], sizes={"triad": 100_000})
    with pytest.raises(
        cfg.ConfigError,
        match=r"experiments\.scaling\.sizes\.triad: 100000 elements per array .* below "
        r"STREAM's rule at p=2: each array >= 4x the 32 MiB .* >= 16777216 elements "
        r".*allow_in_cache: true",
    ):
        scaling.points(small, Node.sized(2, 4))
    allowed = _conf(backends=["threads"], sizes={"triad": 100_000}, allow_in_cache=True)
    pts = scaling.points(allowed, Node.sized(2, 4))
    assert all(pt.params["arrays"]["in_cache"] for pt in pts)
    strong = pts[0].params["modes"]["strong"]
    # the given total held in 32 chunks; a sample takes 8 of them (samples_per_sweep: 4)
    assert strong == {"size": 3_125, "ntasks": 8, "slots": 32}


def test_without_sysfs_cache_auto_is_refused_not_guessed(monkeypatch):
    monkeypatch.setattr(cache, "here", lambda: cache.LastLevelCache(()))
    with pytest.raises(cfg.ConfigError, match=r"sizes\.triad: the last-level cache is not in"):
        scaling.points(_conf(backends=["threads"]), Node.sized(2, 4))
    # an explicit size is planned; the measuring machine's own sysfs then decides the flag
    (pt,) = scaling.points(_conf(backends=["threads"], p=[2], sizes={"triad": 8_000_000}),
                           Node.sized(2, 4))  # fmt: skip
    assert pt.params["arrays"]["in_cache"] is False
    strong = {"mode": "strong", "size": 1_000_000, "ntasks": 8}
    assert scaling.below_rule(pt.params["arrays"], strong, 2, cache.uniform(2, 32 * MIB))
    assert not scaling.below_rule(pt.params["arrays"], strong, 2, cache.uniform(2, 8 * MIB))
    weak = {"mode": "weak", "size": 1_000_000, "ntasks": 4}  # 2 M elements (15.3 MiB) a worker
    assert scaling.below_rule(pt.params["arrays"], weak, 2, cache.uniform(2, 8 * MIB))
    assert not scaling.below_rule(pt.params["arrays"], weak, 2, cache.uniform(2, 2 * MIB))


def _measured(monkeypatch, backend: str) -> dict:
    """A tiny real triad point (in cache, allowed) measured here, as its raw record."""
    monkeypatch.setattr(cache, "here", lambda: cache.uniform(2, 32 * MIB))
    conf = _conf(backends=[backend], p=[2], sizes={"triad": 40_000}, allow_in_cache=True,
                 kernel_modes={}, strong_tasks=4, weak_tasks_per_worker=1)  # fmt: skip
    conf["protocol"].update(warmup=1, repeats=6, max_repeats=6, min_sample_seconds=0.001,
                            point_budget_seconds=0.05)  # fmt: skip
    (point,) = scaling.points(conf, Node.sized(2, 4))
    result = scaling.measure(Point.from_json(point.to_json())) | {"job": job_record()}
    prov = {"machine": {"hostname": "h", "usable_cores": 2}}
    return {
        "point": json.loads(point.to_json()),
        "provenance": prov,
        "provenance_hash": "x",
        "result": result,
    }


@pytest.mark.parametrize("backend", ["threads", "processes-fork", "numba-parallel"])
def test_a_measured_point_reports_the_reference_and_its_fraction(
    monkeypatch, backend, no_leftover_children
):
    rec = _measured(monkeypatch, backend)
    r = rec["result"]
    assert all(m["check_ok"] for m in r["modes"])
    # a quarter of the array a sample: 4 of the 16 chunks of 2 500 holding its 40 000 elements
    assert r["baseline"]["work"] == get_kernel("triad").work(2_500) * 4
    assert r["baseline"]["slots"] == 16 and [m["slots"] for m in r["modes"]] == [16, 8]
    assert r["alloc_s"] > 0
    table = scaling.aggregate([rec])
    assert list(table["mode"]) == ["strong", "weak"]
    ref = r["baseline"]["work"] / float(np.median(r["baseline"]["wall"])) / 1e9
    assert np.allclose(table.triad_reference_gbs, ref)
    assert np.allclose(table.bandwidth_fraction, table.rate / (ref * 1e9))
    assert all("in-cache" in f.split(";") for f in table["flags"])
    assert list(table.llc_bytes) == [32 * MIB, 32 * MIB]


def test_old_records_without_the_new_fields_aggregate_with_empty_columns():
    mode = {"mode": "strong", "size": 10, "ntasks": 8, "work": 80.0, "unit": "byte",
            "wall": [0.5, 0.5, 0.51], "cpu": [1.0, 1.0, 1.0], "inner": 1, "first_run": 0.5,
            "warmup_wall": [0.5], "stopped_on": "precision", "check_ok": True,
            "check_detail": "", "deterministic": True, "checksum": "x"}  # fmt: skip
    result = {"kernel": "triad", "kind": "memory", "backend": "threads", "p": 2,
              "baseline": {"size": 10, "ntasks": 2, "wall": [0.25, 0.25, 0.25],
                           "cpu": [0.25] * 3, "first_run": 0.25, "check_ok": True},
              "startup_s": 0.0, "compile_s": 0.0, "modes": [mode], "job": job_record()}  # fmt: skip
    rec = {"point": {"id": "triad__threads__p2", "params": {"p": 2}},
           "provenance": {"machine": {"hostname": "h", "usable_cores": 2}},
           "provenance_hash": "abc", "result": result}  # fmt: skip
    (row,) = scaling.aggregate([rec]).to_dict("records")
    assert math.isnan(row["triad_reference_gbs"]) and math.isnan(row["bandwidth_fraction"])
    assert row["speedup"] == pytest.approx(2.0)  # per task x tasks, as before
    assert "in-cache" not in row["flags"]


def test_the_report_shows_each_backends_rate_beside_the_reference_and_marks_in_cache_rows():
    import pandas as pd

    from coresweep.report.html import bandwidth_table, llc_text

    rows = pd.DataFrame(
        {
            "backend": ["threads", "loky", "threads"],
            "kernel": ["triad", "triad", "mc-numba"],
            "mode": ["strong"] * 3,
            "p": [2, 2, 2],
            "rate": [30e9, 27e9, 1e9],
            "triad_reference_gbs": [20.0, 20.0, float("nan")],
            "bandwidth_fraction": [1.5, 1.35, float("nan")],
            "llc_bytes": [32 * MIB, 32 * MIB, float("nan")],
            "array_bytes": [2**30, 2**30, float("nan")],
            "flags": ["", "in-cache", ""],
        }
    )
    t = bandwidth_table(rows)
    assert list(t.backend) == ["loky", "threads"]  # triad rows only
    assert list(t.gb_s) == [27.0, 30.0] and list(t.bandwidth_fraction) == [1.35, 1.5]
    assert list(t.llc_mib) == [32.0, 32.0] and list(t.array_gib) == [1.0, 1.0]
    assert list(t.marks) == ["IN CACHE (arrays below 4x LLC)", ""]
    assert bandwidth_table(rows.drop(columns=["triad_reference_gbs"])).empty  # old tables
    llc = cache.uniform(2, 480 * MIB, "sysfs").to_dict()
    assert llc_text(llc) == "1 x 480 MiB over 2 usable CPUs (L3, sysfs)"
    assert llc_text(None) == "not in sysfs (unknown)"


def test_triad_runs_on_the_backends_kernel_backends_lists_and_the_others_on_all():
    conf = cfg.load(None)
    pts = scaling.points(conf, Node.sized(2, 64))
    by_kernel: dict[str, set[str]] = {}
    for p in pts:
        by_kernel.setdefault(p.params["kernel"], set()).add(p.params["backend"])
    assert by_kernel["triad"] == {"threads", "processes-fork", "numba-parallel"}
    assert by_kernel["mc-python"] == set(conf["experiments"]["scaling"]["backends"]) - {
        "numba-parallel"
    }


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        (["no-such-pool"], "kernel_backends.triad"),
        (["dask-threads"], "leaves none of experiments.scaling.backends"),
    ],
)
def test_kernel_backends_that_name_nothing_runnable_are_refused(listed, message):
    conf = cfg.load(None)
    conf["experiments"]["scaling"]["kernel_backends"] = {"triad": listed}
    with pytest.raises(ConfigError, match=message):
        scaling.points(conf, Node.sized(2, 64))


def _child_view(n: int) -> tuple[bool, bool, float]:
    """In a forked worker: hold n elements; whether b and c are the parent's (the same
    addresses: fork keeps them), whether a is a new one, and the checked sum of one task."""
    from coresweep.kernels import stream
    from coresweep.kernels.base import Task

    parent = stream._HELD[0]
    stream.hold(n)
    mine = stream._HELD[0]
    got = stream.run(Task(index=5, size=n, seed=0))
    return (
        (mine.b.ctypes.data, mine.c.ctypes.data) == (parent.b.ctypes.data, parent.c.ctypes.data),
        mine.a.ctypes.data != parent.a.ctypes.data,
        abs(got - stream.reference(n, stream.scalar(5))),
    )


def _child_grows(first: int, then: int) -> bool:
    """In a forked worker: hold `first`, then more; whether b is still the parent's."""
    from coresweep.kernels import stream

    parent_b = stream._HELD[0].b.ctypes.data
    stream.hold(first)
    stream.hold(then)  # a second workload's larger share (strong, then weak)
    return stream._HELD[0].b.ctypes.data == parent_b and stream.held() == then


def test_a_forked_worker_that_grows_its_set_still_reads_the_parents_inputs():
    import multiprocessing as mp

    from coresweep.kernels import stream

    stream.release()
    stream.hold(3 * stream.PERIOD)
    try:
        with mp.get_context("fork").Pool(1) as pool:
            assert pool.apply(_child_grows, (stream.PERIOD, 2 * stream.PERIOD)) is True
    finally:
        stream.release()


def test_a_forked_worker_reads_the_parents_inputs_and_builds_only_its_own_output():
    import multiprocessing as mp

    from coresweep.kernels import stream

    stream.release()  # an earlier test may have left a larger set in this process
    stream.hold(3 * stream.PERIOD)
    try:
        with mp.get_context("fork").Pool(1) as pool:
            shared, own, err = pool.apply(_child_view, (2 * stream.PERIOD,))
        with mp.get_context("fork").Pool(1) as pool:  # more than the parent holds
            bigger = pool.apply(_child_view, (4 * stream.PERIOD,))
    finally:
        stream.release()
    assert (shared, own, err) == (True, True, 0.0)
    assert bigger[:2] == (False, True)  # built its own inputs: the parent's are too small
    assert bigger[2] == 0.0
