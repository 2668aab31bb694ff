"""`coresweep merge`: hosts side by side, and a refused merge leaves nothing behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from reportdata import measured_results

from coresweep.cli import main
from coresweep.merge import merge_runs
from coresweep.records import RESULT_SCHEMA_VERSION, RecordVersionError, read_raw


def _as_host(run: Path, dest: Path, host: str) -> Path:
    """A copy of run whose raw files say they were measured on `host`."""
    shutil.copytree(run, dest)
    for f in (dest / "raw").glob("*/*.json"):
        rec = json.loads(f.read_text())
        rec["provenance"]["machine"]["hostname"] = host
        f.write_text(json.dumps(rec))
    return dest


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if "merging" in p.name)


def test_merge_of_two_hosts_keeps_both_and_aggregates(tmp_path):
    a = measured_results(tmp_path / "a")
    b = _as_host(a, tmp_path / "b", "other-host")
    out = tmp_path / "merged"
    tables = merge_runs([a, b], out)
    raw_a = sorted((a / "raw").glob("*/*.json"))
    merged = sorted((out / "raw").glob("*/*.json"))
    assert len(merged) == 2 * len(raw_a)
    assert {read_raw(f)["provenance"]["machine"]["hostname"] for f in merged} >= {"other-host"}
    assert tables and all(t.exists() and t.parent == out / "tables" for t in tables)
    assert _leftovers(tmp_path) == []


def test_refused_merge_of_the_same_point_twice_leaves_no_output(tmp_path, capsys):
    a = measured_results(tmp_path / "a")
    b = _as_host(a, tmp_path / "b", json.loads(next((a / "raw").glob("*/*.json")).read_text())[
        "provenance"]["machine"]["hostname"])  # fmt: skip
    out = tmp_path / "merged"
    assert main(["merge", str(a), str(b), "--out", str(out)]) == 2
    assert "same point from host" in capsys.readouterr().err
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_merge_of_a_record_of_another_version_is_refused_and_leaves_no_output(tmp_path, capsys):
    a = measured_results(tmp_path / "a")
    b = _as_host(a, tmp_path / "b", "other-host")
    old = sorted((b / "raw").glob("*/*.json"))[-1]  # the last file read: the rest is copied
    rec = json.loads(old.read_text())
    rec["schema_version"] = 0
    old.write_text(json.dumps(rec))
    out = tmp_path / "merged"
    with pytest.raises(RecordVersionError, match=r"schema_version 0; this coresweep reads"):
        merge_runs([a, b], out)
    assert not out.exists()
    assert _leftovers(tmp_path) == []
    # the command says which file and which versions, exits non-zero, writes nothing
    assert main(["merge", str(a), str(b), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"raw result file {old} has schema_version 0" in err
    assert f"this coresweep reads version {RESULT_SCHEMA_VERSION}" in err
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_merge_into_a_folder_that_holds_results_is_refused(tmp_path):
    a = measured_results(tmp_path / "a")
    out = tmp_path / "merged"
    (out / "raw").mkdir(parents=True)
    with pytest.raises(ValueError, match="exists and is not empty"):
        merge_runs([a], out)
    assert (out / "raw").is_dir()
