"""Noise that is survived, not believed: a busy core during a run may leave a claim
undecided, but must never turn a verdict into its opposite.

A small config (the experiments in KEEP, as tests/configs/tiny.yaml sets them) is measured
twice the way the workflow measures it (one `coresweep measure` process per job, aggregated,
verdicts from the tables): once on a quiet machine, once while a CPU hog keeps one core busy
for the middle of the run.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import yaml
from reportdata import ROOT, measure_run

from coresweep import config as cs_config
from coresweep.analysis.verdicts.registry import verdicts as experiment_verdicts
from coresweep.measure.cores import usable_cores
from coresweep.report.claims_table import pick_verdicts
from coresweep.report.inputs import load_inputs

KEEP = ("scaling", "single_core", "context_switch", "synchronization", "task_size")
OPPOSITE = {"supported": "refuted", "refuted": "supported"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(usable_cores() < 2, reason="needs 2 cores: one for the hog"),
]


#: C8's ladder ends where the outcome is clear: serial >= 2.6x faster on 20 µs tasks, the pool
#: >= 1.2x faster on 20 ms tasks (lower bounds over 8 runs here, p=2). tiny.yaml's
#: largest task (2 ms, two tasks) leaves a fork pool at 0.91-1.05x of serial, on the bar
#: itself: measured here, quiet runs decided that case "no" ([0.85, 0.93]), undecided, and
#: "yes" on a CI machine, with no disturbance at all. That is sampling at the bar, not noise.
CLEAR_TASK_SIZES = {"task_seconds": [0.00002, 0.02], "work_seconds": 0.08}


def small_config() -> dict:
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    cfg["experiments"]["task_size"].update(CLEAR_TASK_SIZES)
    names = cs_config.schema()["properties"]["experiments"]["properties"]
    for name in names:
        if name not in KEEP:
            cfg["experiments"][name] = {"enabled": False}
    return cs_config.validate(cfg)


def verdicts_of(results) -> dict[str, str]:
    """Each claim's verdict from the run's tables (claims without one are left out)."""
    inputs = load_inputs(results)
    found = [v for name, t in inputs.tables.items()
             for v in experiment_verdicts(name, t, inputs.machine)]  # fmt: skip
    return {cid: v.verdict for cid, v in pick_verdicts(found).items()}


class Hog:
    """A process spinning on one core from `start` to `stop` seconds after it is armed."""

    def __init__(self, start: float, stop: float) -> None:
        self.proc: subprocess.Popen | None = None
        self.busy_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(start, stop), daemon=True)

    def _run(self, start: float, stop: float) -> None:
        if self._stop.wait(start):
            return
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        t0 = time.monotonic()
        self._stop.wait(stop - start)
        self.proc.kill()
        self.proc.wait()
        self.busy_s = time.monotonic() - t0

    def __enter__(self) -> Hog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_busy_core_never_inverts_a_verdict(tmp_path, no_leftover_children):
    config = small_config()
    t0 = time.monotonic()
    quiet = verdicts_of(measure_run(config, tmp_path / "quiet" / "results"))
    quiet_s = time.monotonic() - t0
    t0 = time.monotonic()
    with Hog(0.15 * quiet_s, 0.75 * quiet_s) as hog:
        noisy = verdicts_of(measure_run(config, tmp_path / "hog" / "results"))
    hog_s = time.monotonic() - t0
    print(f"\nquiet run {quiet_s:.0f} s; hog run {hog_s:.0f} s, one core busy for "
          f"{hog.busy_s:.0f} s of it")  # fmt: skip
    for cid in sorted(set(quiet) | set(noisy), key=lambda c: int(c[1:])):
        print(f"{cid}: quiet {quiet.get(cid, '-')}, hog {noisy.get(cid, '-')}")
    assert hog.busy_s > 0.4 * quiet_s  # the hog did run during the measurement
    assert set(quiet) == set(noisy) and quiet  # the same claims were decided or not
    inverted = {c: (quiet[c], noisy[c]) for c in quiet if OPPOSITE.get(quiet[c]) == noisy[c]}
    assert not inverted, f"verdicts inverted by a busy core: {inverted}"
