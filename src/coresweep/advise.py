"""`coresweep advise`: measure a user's function under every execution model and pick one.

The command's face: its arguments, the sweep (coresweep.experiments.advise, which measures),
the advice rule (coresweep.analysis.advice: the GIL finding and the recommendation, with
notes on budget and load) and the printed form (coresweep.report.advice).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from coresweep.advice_records import Advice, Row
from coresweep.analysis.advice import gil_verdict, recommend
from coresweep.experiments.advise import (
    DEFAULT_BACKENDS,
    OUT_OF_TIME,
    AdviseError,
    Options,
    sweep,
)
from coresweep.kernels.user import UserKernelError, UserSpec

OTHERS_BUSY = 0.1  # other programs using more of the machine's CPU time: a busy machine


def _conclude(advice: Advice, spec: UserSpec, opts: Options, late: bool) -> None:
    """GIL finding, recommendation, and notes on budget and load."""
    advice.gil = gil_verdict(advice.rows, spec.releases_gil)
    advice.recommendation = recommend(advice.rows, advice.task_seconds, opts.threshold)
    skipped = [f"{r.backend} p={r.p}" for r in advice.rows if r.reason == OUT_OF_TIME]
    if skipped or late:
        advice.notes.append(
            f"the sweep needed more than its {opts.budget_seconds:.0f} s budget"
            + (f" and skipped {', '.join(skipped)}" if skipped else "")
            + ": give a larger --budget-seconds, shorter tasks or fewer --args"
        )

    shares = [r.others_cpu_share for r in advice.rows if r.others_cpu_share is not None]
    advice.others_cpu_share = max(shares, default=0.0)
    busy = [f"{r.backend} p={r.p} {r.others_cpu_share:.0%}" for r in advice.rows
            if (r.others_cpu_share or 0.0) > OTHERS_BUSY]  # fmt: skip
    if busy:
        advice.notes.append(
            "the machine was busy: other programs used this share of its CPU time while "
            f"these rows were measured: {', '.join(busy)}; their intervals are wide and "
            "speedups understated: rerun on an idle machine for a firm answer"
        )
    advice.notes += context_notes(advice.rows, opts.threshold)


def context_notes(rows: Sequence[Row], threshold: float) -> list[str]:
    """One worker faster than the plain loop: not parallelism, the place the code runs."""
    return [
        f"{r.backend} with 1 worker ran {r.speedup.text()} against the plain loop in the main "
        "thread: something besides parallelism differs (e.g. glibc malloc treats the main "
        "thread's heap differently from a worker's), and speedups at more workers include it; "
        "the GIL line compares p workers with 1 worker of the same backend instead"
        for r in rows
        if r.p == 1 and r.speedup and r.speedup.gain(threshold) and r.isolation != "inline"
    ]


def spec_from_args(args: Any) -> UserSpec:
    """A UserSpec from `coresweep advise` arguments; bad JSON or spec is an AdviseError."""
    from coresweep.kernels.user import parse_spec

    if args.tasks is None and args.args is None:
        raise AdviseError(
            "say how to build the tasks: --tasks package.module:factory or --args JSON "
            "(a list of argument lists; --args '[[]]' for a function without arguments)"
        )
    arg_sets = None
    if args.args is not None:
        try:
            arg_sets = json.loads(args.args)
        except json.JSONDecodeError as exc:
            raise AdviseError(f"--args is not valid JSON ({exc}): {args.args!r}") from None
        if not isinstance(arg_sets, list) or not arg_sets:
            raise AdviseError(
                f"--args must be a non-empty JSON list of argument lists, got {args.args!r}"
            )
    note = {"true": True, "false": False, None: None}[args.releases_gil]
    raw = {
        "callable": args.callable,
        "tasks": args.tasks,
        "args": arg_sets,
        "check": args.check,
        "releases_gil": note,
        "path": args.path,  # None: the config model's default
    }
    return parse_spec("advise", raw)


def options_from_args(args: Any) -> Options:
    """Options from `coresweep advise` arguments; core counts checked like a config's."""
    from coresweep.config_model import Cores, defaults
    from coresweep.experiments.validation import core_counts
    from coresweep.measure.cores import Node

    spec = "auto" if args.cores == "auto" else [int(c) for c in args.cores.split(",") if c]
    try:
        cores = core_counts(
            spec, {**defaults(Cores), "oversubscribe": args.oversubscribe}, Node.here(), "--cores"
        )
    except ValueError as exc:  # the config wording, said in flags
        raise AdviseError(
            str(exc)
            .replace("config key ", "")
            .replace("set cores.oversubscribe: true", "pass --oversubscribe")
        ) from None
    backends = (
        tuple(b for b in args.backends.split(",") if b) if args.backends else DEFAULT_BACKENDS
    )
    given = {"budget_seconds": args.budget_seconds, "seed": args.seed}
    return Options(
        cores=tuple(cores),
        backends=backends,
        ntasks=args.ntasks,
        **{k: v for k, v in given.items() if v is not None},  # else Options' own defaults
    )


def run_command(args: Any) -> int:
    """`coresweep advise`: 0 advice given, 1 given but a backend failed or a check failed."""
    from coresweep.measure.cleanup import reaped_on_exit
    from coresweep.records import write_json_atomic

    def save(obj: dict[str, Any]) -> None:
        if args.json:
            write_json_atomic(args.json, obj)

    try:
        spec = spec_from_args(args)
        opts = options_from_args(args)
        with reaped_on_exit():
            advice = advise(spec, opts, on_update=lambda a: save(a.to_dict()))
    except ValueError as exc:  # AdviseError, UserKernelError, ConfigError: nothing to advise
        save({"callable": args.callable, "error": str(exc)})
        raise
    from coresweep.report.advice import format_advice

    print(format_advice(advice))
    return 1 if advice.problems else 0


def advise(
    spec: UserSpec,
    opts: Options | None = None,
    on_update: Callable[[Advice], None] | None = None,
) -> Advice:
    """Measure spec's function on every backend and core count; recommend one."""
    options = opts or Options()
    return sweep(
        spec, options, lambda advice, late: _conclude(advice, spec, options, late), on_update
    )


__all__ = ["AdviseError", "Advice", "Options", "UserKernelError", "advise"]
