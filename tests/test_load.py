"""C13 load: arrivals, the open-loop stream and its drain, a tiny real run, verdict rules, plot."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from jobrecords import measured

from coresweep import config as cfg
from coresweep.analysis.verdicts import THRESHOLD, ratio_interval
from coresweep.analysis.verdicts.load import load_verdicts
from coresweep.analysis.verdicts.registry import verdicts as verdicts_of
from coresweep.backends import BACKENDS
from coresweep.experiments import load as exp
from coresweep.measure.cores import Node
from coresweep.report.plots.registry import plots as plots_of

TINY = {
    "kernels": ["mc-python"],
    "loads": [0.5, 2.0],
    "load_unit": "core",
    "request_seconds": 0.002,
    "requests": 20,
    "level_seconds": 0.2,
    "backends": ["threads", "processes-fork"],  # fork starts fast; a Pool cannot cancel
}


def _config(**kw):
    return cfg.validate({"experiments": {"load": {**TINY, **kw}}})


@pytest.fixture(scope="module")
def table():
    (point,) = exp.points(_config(), Node.here(2))
    rec = measured(exp, point)
    return exp.aggregate([rec])


def test_one_point_per_kernel_books_p_cores():
    pts = exp.points(_config(kernels=["mc-python", "mc-numba"]), Node.here(2))
    assert [p.id for p in pts] == ["mc-python__p2", "mc-numba__p2"]
    assert all(p.params["threads"] == p.params["p"] == 2 for p in pts)


def test_only_a_user_kernel_point_carries_its_spec_and_every_point_reads_back_typed():
    spin = {"callable": "userfuncs:spin", "tasks": "userfuncs:spin_sized", "unit": "sample",
            "path": [str(Path(__file__).parent)]}  # fmt: skip
    conf = cfg.validate(
        {
            "user_kernels": {"mine": spin},
            "experiments": {"load": {**TINY, "kernels": ["mc-python", "mine"]}},
        }
    )
    builtin, mine = exp.points(conf, Node.here(2))
    assert "user_kernels" not in builtin.params
    assert builtin.typed(exp.Params).user_kernels is None
    assert mine.typed(exp.Params).user_kernels["mine"]["callable"] == "userfuncs:spin"
    assert mine.typed(exp.Params).loads == [0.5, 2.0]


def test_pool_loads_scale_with_p_and_requests_stay_within_max_rate():
    kw = {"kernels": ["mc-numba"], "load_unit": "pool", "loads": [0.5, 1.5], "requests": None}
    (small,) = exp.points(_config(**kw, request_seconds=0.005), Node.here(2))
    assert small.params["loads"] == [1.0, 3.0]  # in cores
    assert small.params["request_seconds"] == 0.005 and small.params["requests"] == 150
    (big,) = exp.points(_config(**kw, request_seconds=0.005), Node.sized(128, 512))
    assert big.params["loads"] == [64.0, 192.0] and big.params["requests"] == 75 * 128
    # the top level offers max_rate requests/s: 192 cores / 2000 per s = 96 ms per request
    assert big.params["request_seconds"] == pytest.approx(192 / 2000)
    assert big.seconds < 30 and big.job == "load"


def test_arrivals_have_the_offered_rate():
    rng = np.random.default_rng(1)
    assert np.mean(exp.gaps("poisson", 100.0, 20000, rng)) == pytest.approx(0.01, rel=0.03)
    assert set(exp.gaps("fixed", 50.0, 5, rng)) == {0.02}


def test_stream_is_open_loop_and_times_every_request():
    with ThreadPoolExecutor(2) as pool:
        s = exp.run_stream(pool, time.sleep, [0.002] * 10, [0.001] * 10, drain_seconds=5)
    done, sched = np.array(s.done), np.array(s.scheduled)
    assert np.isfinite(done).all()
    assert (done - sched >= 0.002).all()  # latency includes the 2 ms of work
    assert np.allclose(sched, np.arange(1, 11) * 0.001)
    assert s.submitted[-1] < 0.1  # arrivals did not wait for answers


def test_stream_cancels_what_the_drain_deadline_leaves():
    with ThreadPoolExecutor(1) as pool:
        s = exp.run_stream(pool, time.sleep, [0.3] * 4, [0.0] * 4, drain_seconds=0.1)
    assert sum(math.isfinite(d) for d in s.done) == 0
    assert s.results == [None] * 4


def test_throughput_from_completions():
    sched = [0.0]
    done = list(np.arange(1, 101) * 0.01)  # one answer every 10 ms
    rate, lo, hi = exp.throughput_ci(sched, done)
    assert rate == pytest.approx(100.0)
    assert lo <= rate <= hi
    assert exp.throughput_ci([0.0], [math.nan])[0] == 0.0


def test_measure_serves_every_request_of_both_pools(table, no_leftover_children):
    assert len(table) == 2 * 2
    assert set(table.backend) == {"threads", "processes-fork"}
    # the pools as measured: their descriptors travel in the table, the verdict reads them
    assert dict(zip(table.backend, table.backend_isolation, strict=True)) == {
        "threads": "thread",
        "processes-fork": "process",
    }
    assert set(table.executor) == {"threads", "processes"}
    assert "backlog-carried-over" not in ";".join(table["flags"])  # the Pool settled
    assert (table.completed == table.requests).all() and table.check_ok.all()
    assert (table.latency_p99 >= table.latency_p50).all()
    assert (table.latency_p50 > 0).all() and (table.throughput > 0).all()
    low = table[table.load == 0.5]
    assert np.allclose(low.offered_rate, 0.5 * low.capacity_per_core)


def test_plot_and_evidence_from_the_measured_table(table, tmp_path):
    (v,) = verdicts_of("load", table, "test box")
    assert v.claim == "C13" and v.plots == ("load_latency.svg",)
    assert "saturation threads" in v.evidence and "req/s" in v.evidence
    assert "p=2" in v.conditions and "test box" in v.conditions
    (path,) = plots_of("load", table, tmp_path, "test box")
    assert (path.name,) == v.plots and "<svg" in path.read_text()


def test_measured_verdict_is_what_its_intervals_imply(table):
    """Without its flags, the tiny run decides exactly as its saturation interval says."""
    t = table.assign(flags="")
    sat = {b: g.loc[g.throughput.idxmax()] for b, g in t.groupby("backend")}
    thr, proc = sat["threads"], sat["processes-fork"]
    r, lo, hi = ratio_interval(
        (proc.throughput, proc.throughput_ci_lo, proc.throughput_ci_hi),
        (thr.throughput, thr.throughput_ci_lo, thr.throughput_ci_hi),
    )
    (v,) = load_verdicts(t, "test box")
    assert f"processes/threads {r:.2f} [{lo:.2f}, {hi:.2f}]" in v.evidence
    if lo > 1 + THRESHOLD:
        assert v.verdict == "supported"
        assert v.headline == f"Yes for mc-python (processes/threads throughput: {r:.2f}×)."
    elif hi < 1 + THRESHOLD or (lo >= 1 - THRESHOLD and hi <= 1 + THRESHOLD):
        assert v.verdict == "refuted"
        assert v.headline.startswith(f"No for mc-python (processes/threads throughput: {r:.2f}×")
    else:
        assert v.verdict == "inconclusive"
        assert v.headline.startswith(f"Not decided for mc-python: interval [{lo:.2f}, {hi:.2f}]")


def _rows(
    kernel: str, kind: str, threads_rate: float, procs_rate: float, spread: float = 0.03
) -> list[dict]:
    out = []
    for executor, backend, rate in (
        ("threads", "threads", threads_rate),
        ("processes", "processes-forkserver", procs_rate),
    ):
        for load in (1.0, 2.0):
            out.append(
                {
                    "kernel": kernel,
                    "kind": kind,
                    "executor": executor,
                    "backend": backend,
                    "p": 2,
                    "load": load,
                    "throughput": rate * min(load, 2),
                    "throughput_ci_lo": rate * min(load, 2) * (1 - spread),
                    "throughput_ci_hi": rate * min(load, 2) * (1 + spread),
                    "throughput_cores": rate * min(load, 2) / 200,
                    "latency_p50": 0.01,
                    "latency_p99": 0.05,
                    "service_s": 0.005,
                    "unfinished": 0,
                    "flags": "",
                    **BACKENDS[backend].descriptor.columns(),  # what the verdict selects by
                }
            )
    return out


def test_verdict_rule_is_conditional_on_the_kernel_kind():
    # equal rates measured tightly (±1%): the ratio interval [0.98, 1.02] lies below 1.05
    t = pd.DataFrame(
        _rows("mc-python", "python", 100, 200) + _rows("mc-numba", "nogil", 200, 200, 0.01)
    )
    (v,) = load_verdicts(t, "m")
    assert v.verdict == "conditional"
    assert "holds for ['mc-python'], not for ['mc-numba']" in v.conditions
    assert "undecided" not in v.conditions
    assert "at load 2: p99 threads 50 ms vs processes 50 ms" in v.evidence
    assert v.headline == (
        "Depends on the kernel: yes for mc-python (processes/threads throughput: 2.00×); "
        "no for mc-numba (processes/threads throughput: 1.00×, within ±5%)."
    )
    (one_core,) = load_verdicts(t.assign(p=1), "m")
    assert one_core.verdict == "inconclusive"
    assert one_core.headline == (
        "Needs ≥ 2 usable cores for processes to outrun threads; this run had p=1."
    )


def test_equal_rates_measured_loosely_leave_that_kernel_undecided():
    # equal rates at ±3%: the ratio interval [0.94, 1.06] straddles 1.05
    t = pd.DataFrame(_rows("mc-python", "python", 100, 200) + _rows("mc-numba", "nogil", 200, 200))
    (v,) = load_verdicts(t, "m")
    assert v.verdict == "conditional"
    assert "holds for ['mc-python'], not for none; undecided for ['mc-numba']" in v.conditions
    assert "processes/threads 1.00 [0.94, 1.06]" in v.evidence
    assert v.headline == (
        "Depends on the kernel: yes for mc-python (processes/threads throughput: 2.00×); "
        "not decided for mc-numba."
    )
    (alone,) = load_verdicts(t[t.kernel == "mc-numba"], "m")
    assert alone.verdict == "inconclusive"
    assert alone.headline == (
        "Not decided for mc-numba: interval [0.94, 1.06] straddles the bar 1.05× and the band "
        "[0.95, 1.05]."
    )


def test_one_kernel_decides_unless_a_flag_could_have_caused_it():
    t = pd.DataFrame(_rows("mc-python", "python", 100, 200))
    (v,) = load_verdicts(t, "m")
    assert v.verdict == "supported"
    assert v.headline == "Yes for mc-python (processes/threads throughput: 2.00×)."
    # late arrivals can only slow the pool they hit: on the threads they could cause the
    # "yes", on the processes they could not
    late = t.assign(flags=t["flags"].where(t.executor != "threads", "arrivals-late"))
    (flagged,) = load_verdicts(late, "m")
    assert flagged.verdict == "inconclusive"
    assert flagged.headline == (
        "Not decided for mc-python: flagged threads: arrivals-late (size not measured), which "
        "could have caused this 'yes'."
    )
    late = t.assign(flags=t["flags"].where(t.executor == "threads", "arrivals-late"))
    assert load_verdicts(late, "m")[0].verdict == "supported"


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"kernels": ["triad"]}, "experiments.load.kernels: ['triad'] cannot be cut"),
        ({"loads": [1.0]}, "experiments.load.loads"),
        ({"arrivals": "bursty"}, "experiments.load.arrivals"),
        ({"p": 64}, "experiments.load.p"),
        ({"backends": ["threads", "bogus"]}, "experiments.load.backends: unknown backend 'bogus'"),
        (
            {"backends": ["numba-parallel"]},
            "experiments.load.backends: backend 'numba-parallel' cannot take an open-loop "
            "request stream: it runs a whole batch in one call and has no per-task submit",
        ),
        ({"backends": ["serial"]}, "backend 'serial' cannot take an open-loop request stream"),
    ],
)
def test_bad_config_names_the_key(bad, needle):
    with pytest.raises(cfg.ConfigError) as e:
        exp.points(_config(**bad), Node.here(2))
    assert needle in str(e.value)
