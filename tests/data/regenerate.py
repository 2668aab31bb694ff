"""Measure the checked-in report fixture again: tests/data/tiny/{tables,provenance.json,run.json}.

    /work/venv/bin/python tests/data/regenerate.py [--config tests/configs/tiny.yaml] [--out DIR]

The report tests pin the verdicts and headlines the rules give on these tables, so the
numbers must not change between test runs: they are measured once (every experiment of
tests/configs/tiny.yaml, about 3 minutes on 2 cores, run like `coresweep measure` does:
jobs with load check, capacity probe and drift reference), aggregated by the real
experiment code and checked in. Raw files stay out (the tests that need raw records
measure their own, tests/reportdata.py). Regenerate after a table's columns change, then
update the pinned values in tests/test_report.py.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: reportdata

from reportdata import FIXTURE, ROOT, measure_run  # noqa: E402

from coresweep import config as cs_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "tests" / "configs" / "tiny.yaml"))
    ap.add_argument("--out", default=str(FIXTURE))
    args = ap.parse_args()
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="coresweep-fixture-") as tmp:
        results = measure_run(cs_config.load(args.config), Path(tmp) / "results")
        shutil.rmtree(out, ignore_errors=True)
        (out / "tables").mkdir(parents=True)
        for f in sorted((results / "tables").glob("*.parquet")):
            shutil.copy(f, out / "tables" / f.name)
        for f in ("provenance.json", "run.json"):
            shutil.copy(results / f, out / f)
    print(f"fixture written to {out}")


if __name__ == "__main__":
    main()
