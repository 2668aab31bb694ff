"""The scaling planner's memory estimate (Point.mem_mb) against real process trees.

Each case plans a point from a config, measures it in a fresh process exactly as a job
would (scaling.measure on the point read back from JSON), samples that process tree's PSS
at 25 Hz and checks that the estimate lies within 25% of the peak.

Backends: processes-spawn for every kernel, at p = 1 and p = 2: each spawned worker is a
fresh interpreter with its own imports, JIT, inputs and task arrays, so the step from
p = 1 to p = 2 checks the per-worker part of the model, which is what grows to 128 workers.
processes-fork at p = 2 for the two kernels with data (dgemm, triad) checks the other
claim of the model: a fork child shares its parent's inputs (copy-on-write) and adds only
what it writes; for triad each fork child builds its own share of the chunks. threads at
p = 2 for triad checks that thread workers add nothing: they work on chunks of the job's
arrays (the job holds the weak total for them). triad runs strong and weak here, with
allow_in_cache (4 M elements per array, far below STREAM's rule on most machines: the
memory model does not depend on the cache). Sizes make the data ~100 MB per worker where
there is data (dgemm 1280, triad 4 M elements per array), so it outweighs the ±20 MiB that library sharing with other processes on the
machine moves a tree's PSS; the Monte Carlo kernels hold no data and check the
interpreter and JIT constants.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from coresweep import config as cfg
from coresweep.experiments import NAMES, scaling
from coresweep.measure.cores import Node
from coresweep.measure.memory import MIB, TreeMemorySampler

SIZES = {"mc-python": 2000, "mc-numba": 200_000, "dgemm": 1280, "triad": 4_000_000}
TOLERANCE = 0.25
PROTOCOL = {
    "warmup": 1,
    "repeats": 6,
    "max_repeats": 6,
    "min_sample_seconds": 0.05,
    "point_budget_seconds": 0.2,
    "capacity_wait_seconds": 1,
}
CASES = [
    *[(k, "processes-spawn", p) for k in SIZES for p in (1, 2)],
    ("dgemm", "processes-fork", 2),
    ("triad", "processes-fork", 2),
    ("triad", "threads", 2),
]
JOB = """
import json, sys
from coresweep.experiments import NAMES, scaling
from coresweep.records import Point
result = scaling.measure(Point.from_json(sys.stdin.read()))
print(json.dumps([m["check_ok"] for m in result["modes"]]))
"""


def _point(kernel: str, backend: str, p: int) -> scaling.Point:
    others = {name: {"enabled": False} for name in NAMES if name != "scaling"}
    conf = cfg.validate(
        {
            "protocol": PROTOCOL,
            "experiments": {
                **others,
                "scaling": {
                    "kernels": [kernel],
                    "backends": [backend],
                    "p": [1, 2],
                    "strong_tasks": 2,
                    "weak_tasks_per_worker": 1,
                    "strong_sample_seconds": None,
                    "sizes": {kernel: SIZES[kernel]},
                    "kernel_modes": {},
                    "kernel_backends": {},
                    "allow_in_cache": True,
                },
            },
        }
    )
    points = scaling.points(conf, Node.here(2))
    return next(pt for pt in points if pt.params["p"] == p)


def _peak_pss_mb(point: scaling.Point) -> float:
    """Peak PSS (MB) of a fresh process measuring the point, and all its children."""
    proc = subprocess.Popen(
        [sys.executable, "-c", JOB],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreeMemorySampler(proc.pid, hz=25) as sampler:
        out, err = proc.communicate(point.to_json(), timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert out.strip() == "[true, true]", (out, err[-2000:])
    assert sampler.trace is not None
    return sampler.trace.peak("pss") * MIB / 1e6


@pytest.mark.parametrize(("kernel", "backend", "p"), CASES)
def test_memory_estimate_matches_the_peak_pss_of_a_real_point(
    kernel, backend, p, no_leftover_children
):
    point = _point(kernel, backend, p)
    measured = _peak_pss_mb(point)
    print(f"{kernel} {backend} p={p}: estimate {point.mem_mb} MB, peak PSS {measured:.0f} MB")
    assert abs(point.mem_mb - measured) <= TOLERANCE * measured, (point.mem_mb, measured)
