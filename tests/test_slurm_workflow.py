"""The tiny config through `--executor slurm` on the real one-node cluster, against a local run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from wfhelpers import CONFIGS, copy_workflow, snakemake, write_config


def _cluster_reason() -> str | None:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM client tools not installed (run tests/setup-machine.sh as root)"
    r = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    if r.returncode != 0 or "idle" not in r.stdout and "mix" not in r.stdout:
        return f"no idle SLURM node (sinfo: {r.stdout.strip() or r.stderr.strip()})"
    return None


REASON = _cluster_reason()


def _raw(wd: Path) -> dict[str, dict]:
    return {
        p.stem: json.loads(p.read_text())
        for p in (wd / "results" / "raw" / "scaling").glob("*.json")
    }


@pytest.mark.slurm
@pytest.mark.skipif(REASON is not None, reason=REASON or "")
def test_slurm_run_matches_a_local_run(tmp_path):
    local = copy_workflow(tmp_path / "local")
    slurm = copy_workflow(tmp_path / "slurm")
    source = CONFIGS / "tiny-slurm.yaml"
    r = snakemake(local, write_config(local, source), "--cores", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    slurm_args = ("--workflow-profile", "profiles/slurm", "--seconds-between-status-checks", "2")
    # the README's form: the node's cores on the command line (handed over as a string)
    slurm_args += ("--config", "cores={max: 2}")
    config = write_config(slurm, source)
    dry = snakemake(slurm, config, *slurm_args, "-n")
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-4000:]
    t0 = time.monotonic()
    r = snakemake(slurm, config, *slurm_args)
    elapsed = time.monotonic() - t0
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    submissions = re.findall(r"submitted with SLURM jobid (\d+)", out)
    print(f"SLURM run took {elapsed:.0f} s, {len(submissions)} sbatch submission(s)")
    # one allocation for the whole sweep: measurements and provenance in the `sweep` group
    assert len(submissions) == 1, out[-4000:]
    # the dry run planned exactly the points the run measured
    dry_points = set(re.findall(r'\\?"id\\?": \\?"([^"\\]+)', dry.stdout + dry.stderr))
    assert dry_points == set(_raw(slurm)) and len(dry_points) == 3

    a, b = _raw(local), _raw(slurm)
    assert a.keys() == b.keys() and len(a) == 3  # serial p1, fork p1, fork p2
    for point in a:
        ra, rb = a[point]["result"], b[point]["result"]
        assert ra.keys() == rb.keys()
        for ma, mb in zip(ra["modes"], rb["modes"], strict=True):
            assert ma.keys() == mb.keys()
            assert mb["check_ok"] and ma["check_ok"]
            assert ma["checksum"] == mb["checksum"]  # same seed: bit-identical on SLURM
    ta = pd.read_parquet(local / "results" / "tables" / "scaling.parquet")
    tb = pd.read_parquet(slurm / "results" / "tables" / "scaling.parquet")
    assert list(ta.columns) == list(tb.columns) and len(ta) == len(tb)
    assert (slurm / "results" / "claims.csv").exists()
    # the job ran under SLURM with the cores it booked
    logs = list((slurm / "logs" / "slurm").rglob("*.log"))
    assert logs, "no SLURM job logs"
