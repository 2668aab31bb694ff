"""Scaling plans from 2 to 128 cores: balanced strong work, bounded jobs, time and memory.

Planning only (no measurement): the default config (config/config.yaml) on simulated nodes
of n cores with 2 or 4 GiB per core, and the refusals a user meets with a bad config.
Bounds asserted: one job per (kernel, backend) whatever n is (at most kernels x backends =
32 with the defaults); the predicted scaling time at most 21 min on 64 cores (the whole
sweep at most 30 min there) and at most 25 min on 128; every point's memory estimate
within half the node.
"""

from __future__ import annotations

import pytest
from jobrecords import job_record

from coresweep import config as cfg
from coresweep.backends import BACKENDS
from coresweep.experiments import EXPERIMENTS, plan, scaling
from coresweep.kernels import get_kernel
from coresweep.measure import cache
from coresweep.measure.cores import Node
from coresweep.planning import jobs_of, predicted_seconds, summarize

#: the planned nodes' last-level cache: an EPYC's 32 MiB per 8 cores (CCX), whatever this
#: machine's sysfs says (4 cores: 32 MiB, 16: 64, 64: 256, 128: 512 MiB)
EPYC_LLC = cache.uniform(8, 32 * 2**20, "test")


@pytest.fixture(scope="module", autouse=True)
def _epyc_cache():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cache, "here", lambda: EPYC_LLC)
        yield


NODES = [(n, g) for n in (4, 16, 64, 128) for g in (2, 4)]
SCALING_MINUTES = {4: 21, 16: 21, 64: 21, 128: 25}


def _default() -> dict:
    return cfg.load("config/config.yaml")


def _scaling_only(**kw) -> dict:
    others = {name: {"enabled": False} for name in EXPERIMENTS if name != "scaling"}
    return cfg.validate({"experiments": {**others, "scaling": kw}})


@pytest.fixture(scope="module", params=NODES, ids=[f"{n}cores-{g}GiB" for n, g in NODES])
def planned(request):
    n, g = request.param
    node = Node.sized(n, g * n)
    return n, node, plan(_default(), node)  # no refusal on any of these nodes


def test_strong_work_is_balanced_at_every_p(planned):
    n, _, points = planned
    sc = [p for p in points if p.experiment == "scaling"]
    ps = sorted({p.params["p"] for p in sc})
    assert ps[-1] == n and ps[0] == 1
    per_kernel = {}
    for p in sc:
        strong = p.params["modes"]["strong"]
        per_kernel.setdefault(p.params["kernel"], set()).add((strong["ntasks"], strong["size"]))
        assert strong["ntasks"] % p.params["p"] == 0
        assert strong["ntasks"] // p.params["p"] >= 4
        if "weak" in p.params["modes"]:  # the default runs triad strong only (kernel_modes)
            assert p.params["modes"]["weak"]["ntasks"] == 2 * p.params["p"]
    # one fixed total work per kernel: the same tasks and size at every p and backend
    assert all(len(v) == 1 for v in per_kernel.values()), per_kernel
    assert {next(iter(v))[0] for v in per_kernel.values()} == {4 * n}


def test_strong_sample_at_p1_fits_its_budget_on_a_nominal_core(planned):
    _, _, points = planned
    budget = _default()["experiments"]["scaling"]["strong_sample_seconds"]
    for p in points:
        if p.experiment == "scaling":
            k = get_kernel(p.params["kernel"])
            strong = p.params["modes"]["strong"]
            assert strong["ntasks"] * k.work(strong["size"]) / k.rate <= budget * 1.0001


def test_one_job_per_backend_and_one_for_the_memory_kernel_each_kernel_in_p_order(planned):
    _, _, points = planned
    sc = [p for p in points if p.experiment == "scaling"]
    jobs = jobs_of(sc)
    conf = _default()["experiments"]["scaling"]
    assert sorted(j.id for j in jobs) == sorted([*conf["backends"], "triad"])
    for job in jobs:
        if job.id == "triad":  # every backend of the triad, batch ones last (they leave
            # Numba's threads in the job process, which must not fork afterwards)
            backends = [p.params["backend"] for p in job.points]
            assert {p.params["kernel"] for p in job.points} == {"triad"}
            assert sorted(set(backends), key=backends.index) == sorted(
                conf["kernel_backends"]["triad"], key=lambda b: BACKENDS[b].descriptor.batch
            )
            assert BACKENDS[backends[-1]].descriptor.batch
            continue
        assert {p.params["backend"] for p in job.points} == {job.id}
        kernels = [p.params["kernel"] for p in job.points]
        assert "triad" not in kernels
        # each kernel's points together (p = 1 .. P), kernels in the config's order
        assert sorted(set(kernels), key=kernels.index) == [
            k for k in conf["kernels"] if k in kernels
        ]
        for k in set(kernels):
            ps = [p.params["p"] for p in job.points if p.params["kernel"] == k]
            assert ps == sorted(ps)
            first = kernels.index(k)
            assert kernels[first : first + len(ps)] == [k] * len(ps)


def test_predicted_time_is_bounded(planned):
    n, _, points = planned
    lines = {line.experiment: line for line in summarize(points)}
    assert lines["scaling"].seconds <= SCALING_MINUTES[n] * 60
    if n == 64:
        assert predicted_seconds(points) <= 30 * 60
    assert all(p.seconds > 0 for p in points if p.experiment == "scaling")


def test_memory_estimates_fit_the_node_and_grow_with_p(planned):
    _, node, points = planned
    sc = [p for p in points if p.experiment == "scaling"]
    assert all(0 < p.mem_mb * 1e6 <= node.memory_bytes / 2 for p in sc)
    spawn = sorted(
        (p.params["p"], p.mem_mb)
        for p in sc
        if p.params["kernel"] == "triad" and p.params["backend"] == "processes-spawn"
    )
    assert [m for _, m in spawn] == sorted(m for _, m in spawn)


def test_two_cores_keep_todays_eight_tasks_and_sizes():
    points = scaling.points(_default(), Node.sized(2, 4))
    sizes = _default()["experiments"]["scaling"]["sizes"]
    for p in points:
        strong = p.params["modes"]["strong"]
        assert strong["ntasks"] == 8
        if p.params["kernel"] == "triad":  # sized by the cache rule: 4 x 32 MiB per array
            held = strong["size"] * strong["slots"]  # 32 chunks, 8 a sample
            assert held == scaling.rule_elements(EPYC_LLC.reach_bytes(2))
        else:
            assert strong["size"] == sizes[p.params["kernel"]]
            # no rotation, no slots: the params (and so the raw files kept) as before them
            assert set(strong) == {"size", "ntasks"} == set(p.params["baseline"])


def test_planning_is_deterministic():
    node = Node.sized(64, 256)
    first = [p.to_json() for p in scaling.points(_default(), node)]
    assert first == [p.to_json() for p in scaling.points(_default(), node)]


def test_auto_task_count_is_a_multiple_of_every_p_for_an_odd_node():
    # 48 cores: p = 1, 2, 4, ..., 32, 48 -> lcm 96, 4 tasks per worker at p = 48 -> 192
    points = scaling.points(_scaling_only(kernels=["mc-numba"], backends=["threads"]),
                            Node.sized(48, 96))  # fmt: skip
    ntasks = {p.params["modes"]["strong"]["ntasks"] for p in points}
    assert ntasks == {192}
    assert all(192 % p.params["p"] == 0 for p in points)


def test_explicit_unbalanced_task_count_is_refused_naming_p():
    c = _scaling_only(kernels=["mc-numba"], backends=["threads"], strong_tasks=12)
    with pytest.raises(cfg.ConfigError, match=r"experiments.scaling.strong_tasks: 12 .*p=8"):
        scaling.points(c, Node.sized(8, 16))


def test_explicit_task_count_that_leaves_workers_idle_is_refused_naming_p():
    c = _scaling_only(kernels=["mc-numba"], backends=["threads"], strong_tasks=8)
    with pytest.raises(
        cfg.ConfigError, match=r"experiments.scaling.strong_tasks: 8 .*idle at p=16"
    ):
        scaling.points(c, Node.sized(16, 32))


def test_explicit_balanced_task_count_is_kept():
    c = _scaling_only(kernels=["mc-numba"], backends=["threads"], strong_tasks=24)
    points = scaling.points(c, Node.sized(8, 16))
    assert {p.params["modes"]["strong"]["ntasks"] for p in points} == {24}


def test_p_values_whose_lcm_explodes_are_refused_naming_the_key():
    c = _scaling_only(kernels=["mc-numba"], backends=["threads"], p=list(range(1, 17)))
    with pytest.raises(cfg.ConfigError, match=r"experiments.scaling.p: .*lcm = 720720"):
        scaling.points(c, Node.sized(16, 32))


def test_size_that_cannot_fit_is_refused_naming_the_key_and_p():
    # an explicit 4 GiB per array (three: 12 GiB) on a 16 GiB node: refused at p = 1 already
    # for a process backend (the job's reference arrays + the workers' share)
    c = _scaling_only(
        kernels=["triad"], backends=["processes-spawn"], kernel_backends={}, sizes={"triad": 2**29}
    )
    with pytest.raises(
        cfg.ConfigError, match=r"experiments.scaling.sizes.triad: .*p=1 .*24\.2 GiB"
    ):
        scaling.points(c, Node.sized(8, 16))


def test_sizes_shrink_only_to_fit_the_strong_budget():
    k = get_kernel("dgemm")
    assert scaling.strong_size(k, 768, 8, 1.0) == 768  # fits: kept
    n = scaling.strong_size(k, 768, 256, 1.0)
    assert 256 * k.work(n) / k.rate <= 1.0 < 256 * k.work(n + 1) / k.rate
    assert scaling.strong_size(k, 768, 256, None) == 768  # no budget: as given


def test_oversubscribed_points_are_planned_and_marked():
    c = _scaling_only(kernels=["mc-numba"], backends=["threads"], p=[1, 2, 4, 8])
    c["cores"]["oversubscribe"] = True
    points = scaling.points(c, Node(cores=8, usable=2, memory_bytes=8 * 2**30, kind="simulated"))
    marked = {p.params["p"]: p.params.get("oversubscribed", False) for p in points}
    assert marked == {1: False, 2: False, 4: True, 8: True}


def _record(p: int, usable: int) -> dict:
    mode = {"mode": "strong", "size": 10, "ntasks": 8, "work": 80.0, "unit": "sample",
            "wall": [0.5, 0.5, 0.51], "cpu": [1.0, 1.0, 1.0], "inner": 1, "first_run": 0.5,
            "warmup_wall": [0.5], "stopped_on": "precision", "check_ok": True,
            "check_detail": "", "deterministic": True, "checksum": "x"}  # fmt: skip
    result = {"kernel": "mc-numba", "kind": "nogil", "backend": "threads", "p": p,
              "baseline": {"size": 10, "ntasks": 4, "wall": [0.5, 0.5, 0.5],
                           "cpu": [0.5, 0.5, 0.5], "first_run": 0.5, "check_ok": True},
              "startup_s": 0.0, "compile_s": 0.0, "modes": [mode], "job": job_record()}  # fmt: skip
    return {
        "point": {"id": f"mc-numba__threads__p{p}", "params": {"p": p}},
        "provenance": {"machine": {"hostname": "h", "usable_cores": usable}},
        "provenance_hash": "abc",
        "result": result,
    }


def test_aggregate_flags_points_above_the_usable_cores():
    table = scaling.aggregate([_record(2, 2), _record(4, 2)])
    flags = dict(zip(table["p"], table["flags"], strict=True))
    assert "oversubscribed" not in flags[2].split(";")
    assert "oversubscribed" in flags[4].split(";")
    assert set(table.usable_cores) == {2}


def test_strong_triad_footprint_does_not_grow_with_p():
    """One fixed total array split over the workers: from p = 1 to p = 64 the estimate grows
    by 63 fresh interpreters only (it used to be one set of arrays per worker)."""
    conf = _scaling_only(kernels=["triad"], backends=["processes-spawn"], kernel_backends={}, p=[1, 64],
                         modes=["strong"])  # fmt: skip
    conf["cores"]["oversubscribe"] = True
    p1, p64 = scaling.points(conf, Node.sized(64, 256))
    arrays = 3 * 8 * scaling.rule_elements(EPYC_LLC.tiled(64).reach_bytes(64))
    assert arrays == 3 * 2**30  # 4 x 256 MiB per array
    assert p1.params["arrays"]["job_bytes"] == p1.params["arrays"]["worker_bytes"] == arrays
    assert p64.params["arrays"]["worker_bytes"] * 64 == arrays
    per_worker = (p64.mem_mb - p1.mem_mb) / 63
    assert 50 < per_worker < 100  # a fresh interpreter with Numba's JIT, no arrays
