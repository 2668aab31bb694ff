"""Merge result folders from several hosts or jobs: every point keeps its own provenance."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from coresweep.experiments import EXPERIMENTS, build_table
from coresweep.records import read_raw

log = logging.getLogger("coresweep")


def merge_runs(runs: Sequence[Path], out: Path) -> list[Path]:
    """Copy raw files of every run into out/raw, named <point>@<host>, then re-aggregate.

    Points measured on different hosts never overwrite each other; the same point from the
    same host twice is an error, because one of the two would silently win. The merge is
    built in a temporary folder beside `out` and renamed into place at the end, so a refused
    merge (a duplicate point, a record of another version) leaves no output behind.
    """
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"merge output {out} exists and is not empty: choose a new --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.merging-", dir=out.parent))
    try:
        count = _copy_raw(runs, staging)
        names = _aggregate(staging)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("merged %d raw files from %d runs into %s", count, len(runs), out)
    return [out / "tables" / name for name in names]


def _copy_raw(runs: Sequence[Path], out: Path) -> int:
    """Every run's raw files under out/raw as <point>@<host>.json; the number copied."""
    written: dict[Path, Path] = {}
    for run in runs:
        files = sorted((run / "raw").glob("*/*.json"))
        if not files:
            raise ValueError(f"no raw results under {run / 'raw'}")
        for f in files:
            rec = read_raw(f)
            host = rec["provenance"]["machine"]["hostname"]
            point = f.stem.split("@", 1)[0]
            dest = out / "raw" / f.parent.name / f"{point}@{host}.json"
            if dest in written:
                raise ValueError(f"{f} and {written[dest]} are the same point from host {host}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)
            written[dest] = f
    return len(written)


def _aggregate(out: Path) -> list[str]:
    """A table per registered experiment under out/tables; the parquet file names written."""
    names = []
    for exp_dir in sorted((out / "raw").iterdir()):
        if exp_dir.name not in EXPERIMENTS:
            log.warning("skipping %s: not a registered experiment", exp_dir)
            continue
        records = [read_raw(p) for p in sorted(exp_dir.glob("*.json"))]
        table = build_table(exp_dir.name, records)
        path = out / "tables" / f"{exp_dir.name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path, index=False)
        table.to_csv(path.with_suffix(".csv"), index=False)
        names.append(path.name)
    return names
