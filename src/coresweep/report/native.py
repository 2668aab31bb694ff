"""Files for Snakemake's own report (`snakemake --report`): one folder per claim, tables as HTML.

Snakemake shows SVG and HTML inline but offers CSV and parquet only as downloads, and it
groups files by category: so each claim gets a folder (its category) holding its verdict
as a small HTML page and its figures, and every table is also written as HTML.

    report/claims/<C01..C13>/verdict.html, report/claims/<C01..C13>/<figure>.svg
    report/tables/<experiment>.html, report/claims.html

Folder names are zero-padded (C01) because Snakemake sorts categories by name.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from coresweep.claims import CLAIMS
from coresweep.report.figures import Figure, figures_of
from coresweep.report.html import badge, e, frame_html, page, status_table
from coresweep.report.inputs import ReportInputs


def verdict_page(row: dict[str, str]) -> str:
    """One claim's verdict as a small page (the text of its category in Snakemake's report)."""
    claim = CLAIMS[row["claim"]]
    facts = {
        "verdict": badge(row["verdict"]),
        "the numbers that decided it": e(row["evidence"]),
        "conditions": e(row["conditions"]),
        "experiment": e(claim.experiment),
        "deciding quantity": e(claim.quantity),
        "rule": e(row["rule"]),
        "plot": e(row["plot"]),
    }
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts.items())
    body = f"<h2>{claim.id}: “{e(claim.quote)}”</h2><table>{rows}</table>"
    return page(f"{claim.id} verdict", body)


def category(claim_id: str) -> str:
    """C1 -> C01: the claim's folder, and its category in Snakemake's report."""
    return f"C{int(claim_id.removeprefix('C')):02d}"


def _reset(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def write_native(
    report_dir: Path, inputs: ReportInputs, claims: pd.DataFrame, figures: list[Figure]
) -> list[Path]:
    """Write the per-claim folders, the tables and the claims page; returns the files."""
    written = []
    claims_dir = _reset(report_dir / "claims")
    for row in claims.to_dict("records"):
        folder = claims_dir / category(row["claim"])
        folder.mkdir()
        page_path = folder / "verdict.html"
        page_path.write_text(verdict_page(row), encoding="utf-8")
        written.append(page_path)
        for f in figures_of(row["claim"], figures):
            written.append(Path(shutil.copyfile(f.path, folder / f.path.name)))
    tables_dir = _reset(report_dir / "tables")
    for name, table in inputs.tables.items():
        path = tables_dir / f"{name}.html"
        path.write_text(page(f"{name} table", f"<h2>{e(name)}</h2>{frame_html(table)}"))
        written.append(path)
    overview = report_dir / "claims.html"
    cols = ["claim", "verdict", "evidence", "conditions", "plot"]
    overview.write_text(
        page(
            "claims",
            f"<h2>Claims</h2>{frame_html(claims[cols])}<h2>Data found</h2>{status_table(inputs)}",
        ),
        encoding="utf-8",
    )
    return [*written, overview]
