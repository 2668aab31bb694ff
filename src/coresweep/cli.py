"""`coresweep` command line: plan, measure, aggregate, report, env, environment.

Each stage of the data flow is a command a user can run by hand; Snakemake only wires them.
Exit codes: 0 ok, 1 a measurement job had failed points (a dead worker, a hung task: their
raw files are missing, a rerun measures them), 2 bad input (config, arguments, corrupt
files), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("coresweep")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )


def _node(args: argparse.Namespace):  # -> Node
    """The node to plan for: --node-cores/--node-memory-gib (simulated), else this machine."""
    from coresweep.measure.cores import Node

    here = Node.here(args.cores)
    if args.node_cores is None and args.node_memory_gib is None:
        return here
    cores = here.usable if args.node_cores is None else args.node_cores
    memory = 4.0 * cores if args.node_memory_gib is None else args.node_memory_gib
    return Node.sized(cores, memory)


def cmd_plan(args: argparse.Namespace) -> int:
    from coresweep import config as cfg
    from coresweep.experiments import plan
    from coresweep.planning import speed_of, summary_text

    conf = cfg.load(args.config)
    node = _node(args)
    points = plan(conf, node)
    for p in points:
        print(p.to_json())
    print(summary_text(points, node, speed_of(node)), file=sys.stderr)
    return 0


def numba_threads_for(threads: int) -> None:
    """Numba's thread pool is NUMBA_NUM_THREADS threads (default: the CPUs), fixed when it first
    starts: a job whose points run more threads than this machine has CPUs (an oversubscribed
    run) raises it before numba is imported. A value the user set is left alone."""
    unset = "numba" not in sys.modules and "NUMBA_NUM_THREADS" not in os.environ
    if unset and threads > (os.cpu_count() or 1):
        os.environ["NUMBA_NUM_THREADS"] = str(threads)


def cmd_measure(args: argparse.Namespace) -> int:
    from coresweep.records import Point, write_json_atomic

    data = json.loads(args.spec)
    points = [Point.from_dict(d) for d in (data if isinstance(data, list) else [data])]
    numba_threads_for(max(p.threads for p in points))
    from coresweep.experiments import get_experiment
    from coresweep.measure.runner import run_job

    log.info("measuring %d point(s) -> %s", len(points), args.raw_dir)
    record = run_job(points, lambda name: get_experiment(name).measure, args.raw_dir, args.cores)
    if args.record:
        write_json_atomic(args.record, record)
    log.info("job done in %.1f s (predicted %.1f s)", record["seconds"], record["predicted_s"])
    if record["failed"]:
        log.error(
            "%d of %d point(s) failed, no raw file for them: %s",
            len(record["failed"]),
            len(points),
            ", ".join(record["failed"]),
        )
        return 1
    return 0


def cmd_aggregate(args: argparse.Namespace) -> int:
    from coresweep.experiments import build_table
    from coresweep.records import read_raw

    records = [read_raw(p) for p in args.raw]
    table = build_table(args.experiment, records)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    table.to_csv(out.with_suffix(".csv"), index=False)
    log.info("%s: %d rows -> %s (+ .csv)", args.experiment, len(table), out)
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    import pandas as pd

    from coresweep.analysis.scaling_models import fit_models

    # one row per curve and target p: speedups with 95% intervals, marked extrapolated,
    # the hold-out error beside them and a note on what the core counts can show
    fits = fit_models(pd.read_parquet(args.table), args.to)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fits.to_csv(out, index=False)
    curves = fits.drop_duplicates(["host", "kernel", "backend", "mode"])
    log.info(
        "scaling models: %d curves, %d extrapolated speedups (with 95%% intervals), "
        "%d curves without a hold-out -> %s",
        len(curves), int(fits.extrapolated.sum()),
        int(curves.holdout_rel_error.isna().sum()), out,
    )  # fmt: skip
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from coresweep.merge import merge_runs

    for path in merge_runs([Path(r) for r in args.runs], Path(args.out)):
        print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from coresweep.experiments import EXPERIMENTS
    from coresweep.report.build import build_report

    paths = build_report(Path(args.results), list(EXPERIMENTS))
    for name, p in paths.items():
        print(f"{name}: {p}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from coresweep.report.compare import (
        case_table,
        compare_runs,
        summary_lines,
        text_table,
        verdict_table,
        write_comparison,
    )

    comparison = compare_runs(Path(args.run_a), Path(args.run_b), args.threshold)
    paths = write_comparison(comparison, Path(args.out), args.threshold)
    print("\n".join(summary_lines(comparison)))
    print()
    if not comparison.rows.empty:
        print(text_table(comparison))
        print()
    print(verdict_table(comparison))
    print()
    print(case_table(comparison))
    print()
    for name, p in paths.items():
        print(f"{name}: {p}")
    if comparison.inversions:
        print(f"error: {comparison.inversions} sub-case(s) inverted between the runs",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from coresweep.measure.provenance import collect
    from coresweep.records import stable_hash, write_json_atomic

    prov = collect()
    text = json.dumps({**prov, "hash": stable_hash(prov)}, indent=1, sort_keys=True)
    if args.out:
        write_json_atomic(args.out, {**prov, "hash": stable_hash(prov)})
    else:
        print(text)
    return 0


def cmd_environment(args: argparse.Namespace) -> int:
    from coresweep import interpreters
    from coresweep.records import write_json_atomic

    it = interpreters.parse(args.request, args.key)
    log.info("creating the %s environment in %s with uv", it.label, it.env_dir)
    write_json_atomic(args.out or it.marker, interpreters.create(it, interpreters.project_root()))
    return 0


def cmd_advise(args: argparse.Namespace) -> int:
    requests = [r.strip() for r in (args.interpreters or "").split(",") if r.strip()]
    if requests and requests != ["current"]:
        from coresweep.advise_interpreters import across

        return across(args, requests)
    from coresweep.advise import run_command

    return run_command(args)


class AdviseHelp(argparse.HelpFormatter):
    """advise's help names defaults that live in coresweep.experiments.advise, too heavy to
    import for every command: `{advise.NAME}` is filled in only when help is printed."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = super()._get_help_string(action) or ""
        if "{advise." not in text:
            return text
        from coresweep.experiments import advise

        return text.format(advise=advise)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="coresweep", description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "plan",
        help="print every measurement point of a config as JSON lines; a summary with "
        "jobs and predicted duration per experiment goes to stderr",
    )
    p.add_argument("--config", help="YAML config (default: all defaults)")
    p.add_argument("--cores", type=int, help="cores granted (default: usable cores)")
    p.add_argument(
        "--node-cores",
        type=int,
        help="plan for a node with this many cores instead of this machine (a compute node "
        "seen from a login node)",
    )
    p.add_argument(
        "--node-memory-gib",
        type=float,
        help="memory of that node in GiB (default: 4 GiB per core of --node-cores)",
    )
    p.set_defaults(fn=cmd_plan)

    p = sub.add_parser(
        "measure", help="measure a job's points, each into its own raw JSON (kept ones skipped)"
    )
    p.add_argument("--spec", required=True, help="a point as JSON, or a job: a JSON list of points")
    p.add_argument("--raw-dir", required=True, help="folder of the raw files: <point id>.json")
    p.add_argument("--record", help="write the job record (timings per point) here")
    p.add_argument(
        "--cores",
        type=int,
        help="cores this job books (Snakemake's threads); the capacity probe checks these "
        "(default: the usable cores)",
    )
    p.set_defaults(fn=cmd_measure)

    p = sub.add_parser("aggregate", help="raw JSON files of one experiment -> tidy table")
    p.add_argument("--experiment", required=True)
    p.add_argument("--out", required=True, help="results/tables/<experiment>.parquet")
    p.add_argument("raw", nargs="*")
    p.set_defaults(fn=cmd_aggregate)

    p = sub.add_parser("model", help="fit Amdahl/Gustafson per curve, hold-out check, extrapolate")
    p.add_argument("--table", required=True, help="results/tables/scaling.parquet")
    p.add_argument(
        "--to",
        type=int,
        nargs="+",
        required=True,
        help="core counts (the workflow passes experiments.scaling.extrapolate_to)",
    )
    p.add_argument("--out", required=True, help="results/tables/scaling_model.csv")
    p.set_defaults(fn=cmd_model)

    p = sub.add_parser("merge", help="merge result folders of several hosts or jobs into one")
    p.add_argument("runs", nargs="+", help="result folders (each with raw/)")
    p.add_argument("--out", required=True, help="merged result folder")
    p.set_defaults(fn=cmd_merge)

    p = sub.add_parser("report", help="tables -> plots, claims.csv, summary.md, report/index.html")
    p.add_argument("--results", default="results")
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser(
        "compare", help="two result folders side by side: which differences are real"
    )
    p.add_argument("run_a", help="results folder A (e.g. one machine or commit)")
    p.add_argument("run_b", help="results folder B")
    p.add_argument("--out", default="results/comparison", help="folder for the CSV, HTML and plots")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="smallest relative difference that counts (default: the config schema's "
        "protocol.difference_threshold)",
    )
    p.set_defaults(fn=cmd_compare)

    p = sub.add_parser("env", help="print provenance of this machine as JSON")
    p.add_argument("--out", help="write here instead of printing")
    p.set_defaults(fn=cmd_env)

    p = sub.add_parser(
        "environment", help="create the uv environment of one interpreter request (.venvs/)"
    )
    p.add_argument("--request", required=True, help="as in interpreters: 3.13, 3.14t, a path")
    p.add_argument("--key", default="interpreters", help="the config key, for messages")
    p.add_argument("--out", help="the marker JSON (default: .venvs/<label>/coresweep-env.json)")
    p.set_defaults(fn=cmd_environment)

    p = sub.add_parser(
        "advise",
        help="time your own function on every backend; get advice",
        formatter_class=AdviseHelp,
    )
    p.add_argument("callable", help="package.module:function, called as function(*args)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--tasks", help="pkg.mod:f; f(), f(ntasks) or f(ntasks, seed) -> arg tuples")
    how.add_argument("--args", help='JSON list of argument lists, e.g. "[[1, 2], [3, 4]]"')
    p.add_argument("--check", help="package.module:check; check(tasks, results) -> bool")
    p.add_argument("--releases-gil", choices=["true", "false"], help="your note; measured anyway")
    p.add_argument("--cores", default="auto", help='e.g. "1,2" (default: 1, 2, 4 .. usable)')
    p.add_argument("--oversubscribe", action="store_true", help="allow cores above the usable")
    p.add_argument("--backends", help="comma list (default: every backend a function can use)")
    p.add_argument(
        "--ntasks",
        type=int,
        help="tasks per pass (default: ~{advise.PASS_SECONDS} s of serial work)",
    )
    p.add_argument(
        "--budget-seconds",
        type=float,
        help="the sweep's budget (default: {advise.Options.budget_seconds:g} s)",
    )
    p.add_argument("--seed", type=int, help="seed of the task factory (default: the config's seed)")
    p.add_argument("--path", action="append", help="put on sys.path first (default: .)")
    p.add_argument("--json", help="also write the advice as JSON here (updated per backend)")
    p.add_argument(
        "--interpreters",
        help='comma list as in the config\'s interpreters: (e.g. "current,3.13,3.14t"): the '
        "advice once per interpreter, each in its uv environment (.venvs/), then one line "
        "naming what holds on which (each run gets the whole --budget-seconds)",
    )
    p.set_defaults(fn=cmd_advise)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    from coresweep.config import ConfigError
    from coresweep.records import CorruptRawFile

    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.fn(args)
    except (ConfigError, CorruptRawFile, KeyError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"coresweep: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("coresweep: interrupted; finished results are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
