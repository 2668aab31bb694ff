"""The one config model: every key with its type, default, range and one-line doc.

The JSON Schema that Snakemake and `coresweep.config` validate against
(src/coresweep/schemas/config.schema.yaml) and the key tables of config/README.md are
generated from the dataclasses below: `python -m coresweep.config_model` rewrites both, and
tests/test_config_model.py fails when either is stale. Code that needs a default reads it
here (`defaults()`, or a section's dataclass, e.g. `ProtocolSection()`), never a literal.

A key's Python annotation gives its JSON type (`Auto | int` = "auto" or an integer,
`X | None` = X or null, `list[T]`, `dict[str, T]`, a nested dataclass = a section); the
keyword arguments of `key()` are JSON Schema keywords merged into that type (for
`Auto | X` into X), so every range the schema checks is written once, here.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

Auto = Literal["auto"]
REQUIRED = dataclasses.MISSING  # a key without default: the user must give it
SCHEMA_PATH = Path(__file__).parent / "schemas" / "config.schema.yaml"
README_PATH = Path(__file__).resolve().parents[2] / "config" / "README.md"
REGENERATE = "python -m coresweep.config_model"
_BEGIN = re.compile(r"^<!-- BEGIN generated key table: `([^`]*)` .*-->$")
_END = "<!-- END generated key table -->"
TOP = "(top level)"


def median_samples(confidence: float = 0.95) -> int:
    """The fewest samples from which a median's interval can reach `confidence`.

    Without assuming a distribution, the widest interval n samples give, [min, max], covers
    the median with probability 1 - 2^(1 - n): 75% for 3 samples, 93.75% for 5, 96.9% for
    6. The percentile bootstrap cannot do better (its interval lies inside [min, max]):
    simulated with log-normal samples (400 sets each), `stats.median_ci` covered 74.5% at
    n = 3, 93.5% at 5 and 95.5% at 6. So every interval that decides a claim at 95% needs 6."""
    return math.ceil(1 + math.log2(1 / (1 - confidence)) - 1e-9)


#: samples a deciding median interval needs at 95%: the config's minimum for every `repeats`
MEDIAN_SAMPLES = median_samples()


@dataclass(frozen=True)
class Key:
    """What the schema and the README say about one key besides its type and default."""

    doc: str | None
    rules: dict[str, Any] = field(default_factory=dict)  # JSON Schema keywords
    name: str | None = None  # the config's spelling when it is no Python name (mc-python)
    notes: str | None = None  # the README's longer explanation (doc when None)
    schema: dict[str, Any] | None = None  # the whole fragment, where no annotation says it


def key(
    default: Any,
    doc: str | None,
    *,
    name: str | None = None,
    notes: str | None = None,
    schema: dict[str, Any] | None = None,
    **rules: Any,
) -> Any:
    """A config key: its default (REQUIRED: none), one-line doc and JSON Schema rules."""
    meta = {"key": Key(doc, rules, name, notes, schema)}
    if default is REQUIRED:
        return field(metadata=meta)
    if isinstance(default, list | dict):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


def section(cls: type, doc: str | None, *, notes: str | None = None) -> Any:
    """A nested section: a dataclass of its own keys, every one defaulted."""
    return field(default_factory=cls, metadata={"key": Key(doc, notes=notes)})


@dataclass(frozen=True)
class Cores:
    """The `cores` section."""

    max: Auto | int = key(
        "auto",
        'largest p to measure ("auto" = the cores Snakemake granted, capped by usable cores)',
        minimum=1,
        notes="largest p to measure; `auto` = the cores Snakemake granted (`--cores N`), capped by the usable cores (CPU affinity and cgroup quota)",
    )
    oversubscribe: bool = key(
        False,
        "allow p above the usable cores (affinity and cgroup quota)",
        notes="allow p above the usable cores (explicit `p` lists only); such points are flagged `oversubscribed` and decide no verdict",
    )
    node_memory_gib: Auto | float = key(
        "auto",
        'memory of a compute node on a cluster executor, GiB; memory estimates are checked against it and become each job\'s mem_mb ("auto" = the smallest node `sinfo` reports; a local run always uses the memory available on this machine)',
        exclusiveMinimum=0,
        notes="on a cluster executor: a compute node's memory in GiB, against which every point's memory estimate is checked and which bounds each job's `mem_mb`; `auto` asks `sinfo` for the smallest node. Locally the memory available on this machine is used",
    )


@dataclass(frozen=True)
class DaskClusterTls:
    """client certificate for a tls:// scheduler (distributed.Security)"""

    ca_file: str = key(
        REQUIRED, "file of the certificate authority that signed the scheduler's certificate"
    )
    cert: str = key(REQUIRED, "file of the client certificate")
    key: str = key(REQUIRED, "file of the client certificate's private key")


@dataclass(frozen=True)
class DaskCluster:
    """the `dask-cluster` backend — an existing scheduler, or workers started on SLURM"""

    address: str | None = key(
        None,
        "scheduler address (tcp://host:8786 or tls://host:8786); null = $CORESWEEP_DASK_SCHEDULER",
    )
    tls: DaskClusterTls | None = key(
        None, "client certificate for a tls:// scheduler (distributed.Security)"
    )
    jobqueue: dict[str, Any] | None = key(
        None,
        "start workers with dask_jobqueue.SLURMCluster(**jobqueue) instead (queue, account, cores, memory, walltime, ...)",
    )
    connect_timeout: float = key(10, "seconds to reach the scheduler", exclusiveMinimum=0)
    workers_timeout: float = key(120, "seconds for the workers to join", exclusiveMinimum=0)


@dataclass(frozen=True)
class ProtocolSection:
    """The `protocol` section."""

    warmup: int = key(
        1,
        "warm-up rounds discarded per point",
        minimum=1,
        notes="rounds run and discarded before timing (also fills caches, loads JIT code)",
    )
    repeats: int = key(
        MEDIAN_SAMPLES,
        "minimum timed samples per point (6: a median's 95% interval needs them)",
        minimum=MEDIAN_SAMPLES,
        notes="minimum timed samples per point; at least 6, the fewest from which a median's 95% interval exists without assuming a distribution ([min, max] of n samples covers it with 1 − 2^(1−n): 75% at 3, 94% at 5); the same minimum holds for every experiment's `repeats`",
    )
    max_repeats: int = key(
        MEDIAN_SAMPLES,
        "adaptive sampling stops here",
        minimum=MEDIAN_SAMPLES,
        notes="adaptive sampling stops here at the latest (on the 2-core VM of 2026-11-28, the first 5 samples of 129 scaling arms gave a median CI half-width of 5.5%; a third reached ±3%; a 6th and 7th sample narrowed few intervals enough to change a decision, and the 7th cost ~10 s of the default run)",
    )
    target_rel_halfwidth: float = key(
        0.02,
        "stop sampling once the 95% CI half-width is within this fraction of the median",
        exclusiveMinimum=0,
        notes="... or as soon as the 95% bootstrap CI of the median is within ±2%",
    )
    point_budget_seconds: float = key(
        4,
        "time budget for the samples of one point",
        exclusiveMinimum=0,
        notes="... or when this much sampling time is used (the table says `stopped_on: budget`)",
    )
    min_sample_seconds: float = key(
        0.04,
        "each sample repeats the work until it lasts this long",
        exclusiveMinimum=0,
        notes="one sample repeats the work until it lasts at least this long (scaling samples last ~0.04–0.17 s on their own: the baseline's 2 tasks are one sample)",
    )
    difference_threshold: float = key(
        0.05,
        'the one default bar and equivalence band of a ratio: decided above 1 + this, "no" below it (inside [1 - this, 1 + this] or beneath); sampling goes on while a deciding ratio\'s 95% interval straddles the bar',
        minimum=0,
        exclusiveMaximum=1,
        notes='the one default bar and equivalence band of a ratio (speedup, process/thread time, ...): decided "yes" when its 95% interval lies above 1 + this, "no" when it lies below (inside the band [1 − this, 1 + this] or beneath it); while a deciding ratio straddles the bar, its point samples on (the next three keys)',
    )
    decisive_max_repeats: int = key(
        10,
        "while a deciding ratio's interval straddles its bar, its arms sample on up to this many samples (stopped_on cap)",
        minimum=MEDIAN_SAMPLES,
        notes="a point whose deciding ratio straddles its bar when the keys above would stop it samples on, up to this many samples (`stopped_on: cap`); `decided` when the extra samples settled it. Wired where ratios decide claims: scaling (each mode against its in-job serial baseline), context switch (process-pipe / thread-pipe), single core (1 thread / t threads), synchronization (lock / no lock)",
    )
    decisive_budget_seconds: float = key(
        1.5,
        "at most this many extra seconds of sampling per point while a deciding ratio straddles (stopped_on budget)",
        minimum=0,
        notes="... for at most this many extra seconds per point (`stopped_on: budget`)",
    )
    decisive_budget_share: float = key(
        0.08,
        "over a job, extra sampling adds at most this fraction of the seconds its deciding points sampled (summed over jobs, of the run)",
        minimum=0,
        notes="... and, over a job, at most this fraction of the seconds its deciding points sampled (a job is one process; summed over the jobs it bounds the run). The planner counts the extra sampling as a quarter of the deciding points (`experiments.estimates.STRADDLING`) using their whole extra budget",
    )
    pin_workers: bool = key(
        False,
        "pin each worker to its own CPU with os.sched_setaffinity",
        notes="pin worker i to CPU i of the affinity set (`os.sched_setaffinity`); refused when p exceeds the affinity set",
    )
    load_warning: float = key(
        0.5,
        "warn when the 1-minute load average per usable core exceeds this at job start",
        minimum=0,
        notes="warn (and record) when the 1-minute load average per usable core exceeds this at job start",
    )
    retries: int = key(
        1,
        "a point whose machine was short of cores (capacity probe) or whose reference kernel drifted is measured again up to this many times before it is flagged low-capacity or reference-drift",
        minimum=0,
        notes="a point whose machine was short of cores (capacity probe) or whose reference kernel drifted > 5% is measured again up to this many times; the last attempt is recorded, with its doubt as a flag (`low-capacity`, `reference-drift`)",
    )
    retry_budget: float = key(
        0.1,
        "retries may add at most this fraction of a job's predicted seconds; a doubtful point whose retry no longer fits is flagged without one (on a shared VM a retry drifted again one time in three: retries cost more than they bought)",
        minimum=0,
        notes="retries may add at most this fraction of a job's predicted seconds; a doubtful point whose retry no longer fits is flagged without one. With no bound, retrying every drifted point cost the default run +136 s (8 min 37 s instead of 6 min 20 s, 2026-11-29): 28 of 71 points drifted > 5% on the shared VM, and 10 of them drifted again",
    )
    capacity_wait_seconds: float = key(
        30,
        "before a job measures, wait up to this long for the machine to deliver at least 85% of its cores (a probe times the same work on one thread and on all cores)",
        minimum=0,
        notes="before measuring, wait up to this long until the machine delivers ≥ 85% of its cores (a probe runs the same GIL-free work on one thread, then on every core at once); the probe is repeated at the end, and a shortfall at either end flags the job's points `low-capacity`",
    )


@dataclass(frozen=True)
class UserKernel:
    """The `user_kernels.*` section."""

    callable: str = key(
        REQUIRED,
        "package.module:function, called as function(*args) once per task",
        pattern="^[A-Za-z_][\\w.]*:[A-Za-z_][\\w.]*$",
        notes="`package.module:function`, called as `function(*args)` once per task",
    )
    tasks: str | None = key(
        None,
        "package.module:factory; factory(ntasks, seed[, size=...]) returns ntasks argument tuples (give tasks or args)",
        pattern="^[A-Za-z_][\\w.]*:[A-Za-z_][\\w.]*$",
        notes="`package.module:factory`, in one of three forms read from its signature: `factory(ntasks, seed)` or `factory(ntasks)` returns `ntasks` argument tuples; `factory()` returns its own fixed list, used like `args` (cycled to as many tasks as the experiment asks for). Each form also gets `size=` when it has a `size` parameter. Another signature, a factory that raises or one that returns no list of argument tuples is an error naming the factory. Give `tasks` or `args`",
    )
    args: list[list[Any]] | None = key(
        None,
        "the argument lists themselves, cycled to the tasks an experiment asks for (give tasks or args)",
        minItems=1,
        notes="the argument lists themselves, e.g. `[[1, 2], [3, 4]]`, cycled to as many tasks as the experiment asks for",
    )
    check: str | None = key(
        None,
        "package.module:function; check(tasks, results) returns a bool or (bool, detail)",
        pattern="^[A-Za-z_][\\w.]*:[A-Za-z_][\\w.]*$",
        notes="`package.module:function`; `check(tasks, results)` returns a bool or `(bool, detail)`; a failed check flags the point",
    )
    releases_gil: bool | None = key(
        None,
        "your note whether the function releases the GIL; the runs measure it and say whether they agree",
        notes="your note; the runs measure it (`coresweep advise` says whether they agree)",
    )
    size: int | None = key(
        None,
        "passed to the task factory as size= when an experiment has no size for this kernel; null = the factory's own default",
        minimum=1,
        notes="`size=` for the factory when the experiment has no `sizes` entry for this kernel; `null` = the factory's own default",
    )
    unit: str = key(
        "task",
        "what size counts: task = size ignored, one unit of work per task; sample = work grows linearly with size (lets experiments cut tasks of a given duration)",
        enum=["task", "sample"],
        notes="`sample` when the work grows linearly with `size` (lets `task_size` cut tasks of a given duration); `task` = one unit per task",
    )
    path: list[str] = key(
        ["."],
        "directories put on sys.path before importing, relative to the working directory",
        notes="directories put on `sys.path` before importing, relative to the working directory",
    )
    subinterpreter_safe: bool = key(
        False,
        "true: the function, its module and its tasks import nothing a subinterpreter refuses (NumPy, Numba, most C extensions), so it may run on the subinterpreters backend",
        notes="`true` when the function, its module and its tasks import nothing a subinterpreter refuses (NumPy, Numba, most C extensions): only then does it run on a backend whose isolation is `interpreter` (`subinterpreters`); the plan says why it is left out otherwise",
    )


@dataclass(frozen=True)
class Scaling:
    """The `experiments.scaling` section."""

    enabled: bool = key(True, "run this experiment")
    kernels: list[str] = key(
        ["mc-python", "mc-numba", "dgemm", "triad"],
        "all four: `mc-python` (pure Python, holds the GIL), `mc-numba` (Numba nogil), `dgemm` (BLAS, one thread per worker), `triad` (memory-bound, Numba nogil)",
        minItems=1,
        uniqueItems=True,
    )
    backends: list[str] = key(
        ["threads", "processes-fork", "loky", "dask-processes", "numba-parallel"],
        "`threads`, `processes-fork`, `loky` (joblib's reusable executor), `dask-processes`, `numba-parallel` (the last only for kernels with a `prange` version). Registered but not in the default list, because what they would add is measured elsewhere: `dask-threads` (a thread pool behind Dask's scheduler: slower than `threads` for every kernel in two runs, at p = 2 on the 2-core VM of 2026-11-29 1.57 / 1.64 / 0.80 / 0.77 against 2.01 / 1.97 / 1.01 / 1.22 for dgemm / mc-numba / mc-python / triad, so C2 and C11, decided by the best thread backend, never read it; task_size measures its per-task cost when listed there, and faults, memory and load keep it; its job cost 22–27 s), `serial` (every job already samples the kernel in a plain loop as its baseline; a serial job cost 10 s), `processes-spawn` and `processes-forkserver` (their sampled curves matched fork's and loky's: at p = 2 on the 2-core VM of 2026-11-28, spawn 1.92 / 1.97 / 1.92 against fork 1.88 / 1.93 / 1.96 for dgemm / mc-numba / mc-python; a pool's start is timed apart from the samples, and memory and task_size, where the start method matters, keep both; spawn's job cost 26 s). Add any of them to measure it",
        minItems=1,
        uniqueItems=True,
    )
    p: Auto | list[int] = key(
        "auto",
        'core counts; "auto" = 1, 2, 4, ... up to cores.max',
        minItems=1,
        uniqueItems=True,
        items={"minimum": 1},
        notes="`auto` = 1, 2, 4, ... up to `cores.max`; or a list such as `[1, 2, 3]`",
    )
    modes: list[str] = key(
        ["strong", "weak"],
        "strong: fixed total work; weak: work grows with p",
        minItems=1,
        uniqueItems=True,
        items={"enum": ["strong", "weak"]},
    )
    strong_tasks: int | None = key(
        None,
        "tasks in the fixed total work of strong scaling; null = the smallest multiple of every p giving each worker at least strong_tasks_per_worker tasks at the largest p; an explicit count must be a multiple of every p (refused otherwise)",
        minimum=1,
        notes="tasks in the fixed total work of strong scaling, the same at every p. `null` = chosen: the smallest multiple of every p that gives each worker at least `strong_tasks_per_worker` tasks at the largest p (with p = 1, 2, 4, ... that is 4 × the largest p: 8 tasks on 2 cores, 64 on 16, 256 on 64, 512 on 128). An explicit count must be a multiple of every p; one that leaves workers idle or uneven at some p is refused, naming that p. p values whose least common multiple needs more than 4096 tasks (e.g. every integer 1..16) are refused: list p values that divide one another",
    )
    strong_tasks_per_worker: int = key(
        4,
        "with strong_tasks null: tasks per worker at the largest p (total = 4 x lcm of the p values when they are powers of 2: 8 tasks on 2 cores, 256 on 64)",
        minimum=1,
        notes="with `strong_tasks: null`: tasks per worker at the largest p (more at smaller p), so dynamic dispatch has some slack but every worker gets the same share",
    )
    strong_sample_seconds: float | None = key(
        1.0,
        "time budget of one strong sample at p = 1 on a nominal core: a kernel's size shrinks below sizes.<kernel> when its strong tasks would take longer (kernels declare a nominal rate; no timing at plan time); null = sizes as given",
        exclusiveMinimum=0,
        notes="time budget of one strong sample at p = 1 on a nominal core: when the strong work (its tasks × `sizes.<kernel>`) would take longer at the kernel's declared nominal rate, the task size shrinks to fit (one size per kernel for the whole sweep: strong, weak and baseline). The rates are declared by the kernels, not timed, so `coresweep plan --node-cores N` on a login node plans exactly the sizes the compute node measures. With the defaults, sizes are kept up to 8 cores and shrink on larger nodes (on 16 cores mc-python 23437 and mc-numba 3906250, the others kept; on 64 cores: mc-python 5859, mc-numba 976562, dgemm 489; tasks of ~4 ms; triad is sized by the cache rule, never by this budget). `null` = `sizes` as given. A larger budget gives longer tasks at high p (less of each strong sample is dispatch: ~0.1 ms per task through a process pool, ~1 ms through Dask) but lengthens every p = 1 point; 1 s keeps the predicted scaling sweep at ~20 min on 64 cores",
    )
    weak_tasks_per_worker: int = key(
        2,
        "tasks per worker in weak scaling; also the tasks of the serial baseline every job samples",
        minimum=1,
        notes="tasks per worker in weak scaling; also the tasks of the serial baseline every job samples alongside its parallel work (speedup = that serial time scaled to the mode's work, over the parallel time of the same round). The triad's baseline instead sweeps the strong workload's chunks (its one-thread reference)",
    )
    extrapolate_to: list[int] = key(
        [16, 64, 128],
        "core counts to which the fitted Amdahl / Gustafson models extrapolate",
        items={"minimum": 1},
        notes="core counts the fitted Amdahl (strong) / Gustafson (weak) models extrapolate to; the fit is validated by holding out the largest measured p (needs ≥ 3 core counts)",
    )
    sizes: dict[str, int | Auto] = key(  # triad alone may be auto
        {"mc-python": 25000, "mc-numba": 4000000, "dgemm": 768, "triad": "auto"},
        "per-task size by kernel (samples, matrix order); triad: elements per array (the strong total and each weak worker's), auto = STREAM's rule (each array >= 4x the last-level cache the cores reach)",
        schema={
            "type": "object",
            "properties": {
                "triad": {
                    "oneOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "string", "enum": ["auto"]},
                    ]
                }
            },
            "additionalProperties": {"type": "integer", "minimum": 1},
        },
        notes="`sizes.<kernel>`: per-task size, at most (see `strong_sample_seconds`): samples (Monte Carlo), matrix order (dgemm). `triad` is different: elements of each of its three float64 arrays (the strong total, and each weak worker's share), `auto` = STREAM's rule, each array ≥ 4 × the last-level cache the point's cores reach. The cache is read from sysfs (`/sys/devices/system/cpu/cpu*/cache/index*/{level,size,shared_cpu_list}`): the LLC p cores reach is the sum of the p largest distinct LLC domains of the usable CPUs (one core's own domain at p = 1); a simulated or cluster node (`--node-cores`) is assumed to have this machine's domains repeated. Strong scaling keeps ONE total array (≥ 4 × the LLC of the largest p's cores) held in chunks, `samples_per_sweep` × the tasks of a sample, the same at every p: threads and numba-parallel work on chunks of the job's arrays, each process worker builds its own share (first touch in the worker), so the footprint is the total, not total × p. Weak scaling gives each worker ≥ 4 × the LLC one core reaches. The in-job serial baseline sweeps the strong workload's chunks in the job's process: the one-thread reference (`triad_reference_gbs`, `bandwidth_fraction` in the table). Building the arrays is start-up (`alloc_s`), never a sample, and `strong_sample_seconds` does not shrink them. On the 2-core Xeon VM of 2026-12-06 (480 MiB L3) that is 1.9 GiB per array, 5.6 GiB of arrays per job (11.3 GiB with a process backend: the job's reference arrays plus the workers' share); a triad point may use up to 80% of the node's memory (its footprint is its arrays, known exactly). An explicit size below the rule is refused naming the p and the size the rule needs, unless `allow_in_cache` is true; a node too small for the rule is refused naming this key, the p and the memory it would need. Where sysfs has no cache facts, `auto` is refused: give an explicit size (the measuring job checks it against its own sysfs)",
    )
    kernel_modes: dict[str, list[str]] = key(
        {"triad": ["strong"]},
        "modes per kernel: those of modes it lists (kernels not listed run all of modes); triad runs strong only by default (weak needs p x 4 x the LLC per array)",
        additionalProperties={
            "items": {"enum": ["strong", "weak"]},
            "minItems": 1,
            "uniqueItems": True,
        },
        notes="modes per kernel: the kernel runs those of `modes` it lists (a kernel not listed runs all of `modes`; none left is refused). triad runs strong only by default: weak triad needs p × 4 × the LLC one core reaches per array (11 GiB at p = 2 on a 480 MiB L3, 17 GiB with a process backend); set `{}` or `triad: [strong, weak]` where the node holds it",
    )
    kernel_backends: dict[str, list[str]] = key(
        {"triad": ["threads", "processes-fork", "numba-parallel"]},
        "backends per kernel: those of backends it lists (kernels not listed run on all of backends); triad runs on threads, processes-fork and numba-parallel by default (each process holds arrays of 4x the LLC)",
        additionalProperties={"minItems": 1, "uniqueItems": True},
        notes="backends per kernel: the kernel runs on those of `backends` it lists (a kernel not listed runs on all; unknown names and none left are refused). Each triad job builds three arrays of 4 × the LLC (5.6 GiB on a 480 MiB L3) in its own process and again in its process workers: on the 2-core Xeon VM of 2026-12-06 first touch ran at ~0.27 GB/s (22 s per 6 GB), so loky and dask-processes triad would add ~65 s each; add them where memory is fast to fault in",
    )
    allow_in_cache: bool = key(
        False,
        "allow a sizes.triad below STREAM's rule (arrays >= 4x the last-level cache); every such triad row is then flagged in-cache",
        notes="`true` lets an explicit `sizes.triad` below STREAM's rule run (tiny test configs); every such triad row is flagged `in-cache` and the report marks it. Never a silent fallback: with `false` such a size is refused. Rows are also flagged `in-cache` when the machine that measured them has more cache than the plan assumed (its own sysfs, in the job's provenance)",
    )
    samples_per_sweep: int = key(
        4,
        "memory-bound kernels: samples that together sweep the held arrays once (each sample takes the next chunks round robin); 1 = every sample sweeps all of them",
        minimum=1,
        notes="memory-bound kernels (the triad): the arrays a process holds (each ≥ 4 × the LLC, STREAM's rule) are cut into this many times the tasks of a sample, and successive tasks take successive chunks round robin, so a sample sweeps 1/`samples_per_sweep` of them and, for a process holding one workload (the default, strong only), no chunk is read again before all the others were: a sample streams from memory as STREAM's whole-array sweep does, in a quarter of the time. `1` = every sample sweeps all of them (STREAM's own loop). The rule binds the held arrays, not the sample: with 4, a sample still moves 3 × the LLC (one LLC per array). On the 2-core Xeon VM of 2026-12-07 (480 MiB L3, 5.6 GiB of arrays) a p = 1 sample took 0.46 s with 1; with 4 it moves 1.4 GB",
    )


@dataclass(frozen=True)
class Memory:
    """claim C4 — PSS/USS of the process tree vs workers, by backend and input sharing"""

    enabled: bool = key(True, "run this experiment")
    backends: list[str] = key(
        [
            "threads",
            "processes-fork",
            "processes-forkserver",
            "processes-spawn",
            "loky",
            "dask-processes",
        ],
        "backend registry names (threads or processes on this machine; not serial, numba-parallel or dask-cluster); each runs the sharing modes its descriptor allows; jobs - threads with processes-fork, forkserver with spawn, every other backend alone",
        minItems=1,
        uniqueItems=True,
        notes="backend registry names: any whose workers are threads, subinterpreters or processes on this machine (`process-pool`, `loky`, `dask-threads`, `subinterpreters` on Python 3.13+ too; not `serial`, `numba-parallel`, `dask-cluster`). Jobs: threads with processes-fork, forkserver with spawn, every other backend alone",
    )
    workers: Auto | list[int] = key(
        "auto",
        'worker counts N; "auto" = 1, 2, 4, ... up to the cores, or an explicit list',
        minItems=1,
        uniqueItems=True,
        items={"minimum": 1},
        notes="N = 1, 2, 4, ... up to the cores granted, or an explicit list",
    )
    oversubscribe_factors: list[int] = key(
        [2],
        "extra N = factor x cores; idle or lightly working workers need no cores of their own",
        uniqueItems=True,
        items={"minimum": 2},
        notes="extra N = factor × cores; idle or lightly working workers need no cores of their own (`[2, 4]` adds N = 4 × cores at ~1.5× the time)",
    )
    sharing: list[str] = key(
        ["none", "copied", "inherited", "shm"],
        "how workers get the large input — none; copied (a private copy per worker: pickled into spawn/forkserver/Dask workers, copied after the fork for fork workers); inherited (the parent's array in place: threads, fork copy-on-write); shm (multiprocessing.shared_memory); each backend runs the modes it supports",
        minItems=1,
        uniqueItems=True,
        items={"enum": ["none", "copied", "inherited", "shm"]},
        notes="`none`; `copied` (pickled into each worker as a task argument: a private copy); `inherited` (the parent's array in place: threads share it, fork workers see it copy-on-write); `shm` (`multiprocessing.shared_memory`, attached by name). Each backend runs the modes its descriptor allows: `inherited` when it shares memory or its arguments are inherited (threads, fork), `shm` when its workers are processes, `copied` when they share no memory with the job (processes, subinterpreters), except under a nanny (Dask: a large task argument crawls through the scheduler, see `communication`). So threads run `none` and `inherited`, fork all four, forkserver, spawn, process-pool and loky `none`, `shm`, `copied`, Dask processes `none` and `shm`, subinterpreters (Python 3.13+) `none` and `copied`",
    )
    input_mib: Auto | int = key(
        "auto",
        'size of the large input in MiB; "auto" = 64, smaller when the copies of the largest N would exceed 2 GiB (copy time on big nodes) or memory is short (256 doubles the job time for the same verdict); a size whose copies need more than half the node\'s memory is refused',
        minimum=1,
        notes="input size in MiB; `auto` = 64, smaller when the copies of the largest N would exceed 2 GiB (every copied worker receives it through a pipe: 256 copies of 64 MiB take ~20 s per backend) or memory is short; a size whose copies (parent + segment + one per copied worker) need more than half the available memory is refused",
    )
    scratch_mib: int = key(
        8,
        "working memory each working task allocates (MiB)",
        minimum=0,
        notes="working memory each working task holds",
    )
    idle_seconds: float = key(
        0.08,
        "sampling window with the workers idle, per N",
        exclusiveMinimum=0,
        notes="sampling window per N and mode with the workers idle; idle level = median",
    )
    work_seconds: float = key(
        0.1,
        "sampling window with the workers working, per N",
        exclusiveMinimum=0,
        notes="sampling window per N and mode while every worker works; working level = peak",
    )
    hz: float = key(
        15,
        "memory samples per second over the whole tree (smaps_rollup: the figures psutil's memory_full_info reads)",
        minimum=10,
        notes="samples per second (at least 10); the achieved rate is recorded and < 10 Hz is flagged; each scan walks every process's page tables, so a higher rate costs CPU in the measured job",
    )
    timeout_seconds: float = key(
        120,
        "a step in which not every worker takes its task within this time is an error",
        exclusiveMinimum=0,
        notes="a step in which some worker never takes its task is an error",
    )


@dataclass(frozen=True)
class Communication:
    """claim C5 — ping-pong round trip and bandwidth by transport and message size"""

    enabled: bool = key(True, "run this experiment")
    transports: list[str] = key(
        ["thread-queue", "mp-pipe", "mp-queue", "shm-event", "dask-threads", "dask-processes"],
        "two points in one job: the thread queue with the multiprocessing transports, and Dask; two cores on any node (sender and echo)",
        minItems=1,
        uniqueItems=True,
        items={
            "enum": [
                "thread-queue",
                "mp-pipe",
                "mp-queue",
                "shm-event",
                "dask-threads",
                "dask-processes",
            ]
        },
        notes="all six: `thread-queue`, `mp-pipe`, `mp-queue`, `shm-event`, `dask-threads`, `dask-processes`",
    )
    sizes: list[int] = key(
        [8, 1024, 65536, 1048576, 16777216, 67108864],
        "message sizes in bytes (8 B .. 64 MiB by default)",
        minItems=1,
        uniqueItems=True,
        items={"minimum": 1},
        notes="message sizes in bytes: 8 B, 1 KiB, 64 KiB, 1 MiB, 16 MiB, 64 MiB",
    )
    dask_max_bytes: int = key(
        16777216,
        "largest message sent through Dask (a 64 MiB message embedded in a task takes seconds per round trip)",
        minimum=1,
        notes="(16 MiB) largest message sent through Dask (a 64 MiB task argument takes seconds per round trip)",
    )
    placement: str = key(
        "together",
        "where the echo partner of the local transports runs against the sender: together (one CPU: the transport's own cost), apart (two CPUs: plus waking the other CPU), os (wherever the scheduler puts them)",
        enum=["apart", "together", "os"],
        notes="`apart`: the sender on the last usable CPU, each echo partner (thread or process) on the one before; `together`: both on the last usable CPU; `os`: unpinned. Unpinned, a round trip takes whichever placement the scheduler picks and keeps it for seconds, and the two differ many times over (a multiprocessing Event ping-pong on a 2-CPU VM: 10-11 µs on one CPU, ~210 µs across two; `benchmarks/wakeup_placement.py`). `together` measures what the transport itself costs (copies, pickling, system calls) at a CV of a few per cent; `apart` adds the cross-CPU wake-up, which on a VM is an exit to the hypervisor and varies by tens of per cent between samples. On one usable core `apart` runs as `together`. Dask places its own workers: its point is always `os`",
    )
    start_method: str = key(
        "spawn",
        "how the echo process of mp-pipe, mp-queue and shm-event starts (not timed)",
        enum=["fork", "forkserver", "spawn"],
        notes="how the echo process of `mp-pipe`, `mp-queue`, `shm-event` starts (not timed)",
    )
    repeats: int = key(
        MEDIAN_SAMPLES,
        "minimum samples per size (at least 6: each process/thread ratio is a median of per-round ratios)",
        minimum=MEDIAN_SAMPLES,
        notes="minimum samples per size; at least 6, because each process/thread ratio is the median of per-round ratios and its 95% interval needs 6 rounds (with 3, a simulated interval covered 75%)",
    )
    min_sample_seconds: float = key(
        0.02,
        "each sample repeats the round trip until it lasts this long",
        exclusiveMinimum=0,
        notes="a sample repeats the round trip until it lasts this long",
    )
    budget_seconds: float = key(
        2,
        "sampling time per transport once every size has its minimum repeats",
        exclusiveMinimum=0,
        notes="sampling time per transport once every size has its minimum repeats",
    )
    timeout_seconds: float = key(
        60,
        "a round trip slower than this is an error (the echo died)",
        exclusiveMinimum=0,
        notes="a round trip slower than this is an error (the echo died)",
    )


@dataclass(frozen=True)
class TaskSizeProtocol:
    """overrides of the global protocol for this experiment, which samples six arms per backend"""

    repeats: int = key(
        MEDIAN_SAMPLES, "minimum timed samples per arm (at least 6)", minimum=MEDIAN_SAMPLES
    )
    max_repeats: int = key(MEDIAN_SAMPLES, "adaptive sampling stops here", minimum=MEDIAN_SAMPLES)
    min_sample_seconds: float = key(
        0.02, "each sample repeats the call until it lasts this long", exclusiveMinimum=0
    )
    point_budget_seconds: float = key(
        1, "sampling time per backend once every arm has its minimum repeats", exclusiveMinimum=0
    )


@dataclass(frozen=True)
class TaskSize:
    """claim C8 — fixed total work cut into tasks of rising size; crossover vs serial, pool start cost, per-task overhead"""

    enabled: bool = key(True, "run this experiment", notes="run this experiment")
    kernels: list[str] = key(
        ["mc-python", "mc-numba"],
        "measured in one job on the same pools; kernels whose work grows linearly with size (unit sample)",
        minItems=1,
        uniqueItems=True,
        notes="measured in the same job on the same pools; only kernels whose work grows linearly with size and that start no inner pool (`unit: sample`, also user kernels)",
    )
    backends: list[str] = key(
        [
            "serial",
            "threads",
            "processes-fork",
            "processes-forkserver",
            "processes-spawn",
            "loky",
            "dask-processes",
        ],
        "per-task backends, run one after another in each job; serial (the reference) is always added",
        minItems=1,
        uniqueItems=True,
        notes="per-task backends; run one after another in each job, in-process ones and fork first; `serial` (the reference) is always added; batch backends (`numba-parallel`) are refused. The default holds every process pool C8 decides on, Dask's nanny pool for its documented per-task overhead, and threads as the in-process contrast; `dask-threads` (Dask's scheduler without processes) decides no C8 case and took 10.6 of the job's 52 s on the 2-core Xeon VM (2026-12-07): add it to see Dask's own overhead apart from its processes",
    )
    p: Auto | int = key(
        "auto",
        'workers per backend; "auto" = the cores granted (capped by usable cores and cores.max)',
        minimum=1,
        notes="workers per backend; `auto` = the cores granted",
    )
    task_seconds: list[float] = key(
        [1e-05, 0.0001, 0.001, 0.01, 0.1],
        "the ladder of task sizes, in seconds of serial work per task (calibrated per kernel on one core)",
        minItems=2,
        uniqueItems=True,
        items={"exclusiveMinimum": 0},
        notes="the ladder (10 µs .. 100 ms); tasks of 1 s need `work_seconds` ≥ p s per call",
    )
    work_seconds: float = key(
        0.1,
        "fixed total serial work per call, cut into work_seconds / task_seconds tasks (at least p)",
        exclusiveMinimum=0,
        notes="fixed total serial work per call, cut into `work_seconds / task_seconds` tasks (at least p)",
    )
    max_tasks: Auto | int = key(
        "auto",
        'cap on tasks per call (small tasks then do less total work), also the number of empty tasks that measure per-task overhead; "auto" = max(50, 2p)',
        minimum=1,
        notes="cap on tasks per call: small tasks then do less total work (with many tasks per worker a warm pool's speedup hardly depends on their number); also the number of empty tasks; `auto` = max(50, 2p), so tiny tasks reach every worker of a big pool",
    )
    max_work_seconds: float = key(
        1,
        "cap on one call's serial work: a level has at most max_work_seconds / task_seconds tasks, even fewer than p (bounds the serial reference on big nodes)",
        exclusiveMinimum=0,
        notes="cap on one call's serial work: a level has at most `max_work_seconds / task_seconds` tasks, even fewer than p (the serial reference runs every level in the job; p tasks of 100 ms on 128 cores would cost 13 s per call). On big nodes the largest tasks then come fewer than p per call (`ntasks` in the table), their speedup capped at that count",
    )
    start_repeats: int = key(
        1,
        "cold starts timed per backend and job (the work runs on the last)",
        minimum=1,
        notes="cold starts timed per backend and job (the work runs on the last)",
    )
    protocol: TaskSizeProtocol = section(
        TaskSizeProtocol,
        "overrides of the global protocol for this experiment, which samples six arms per backend",
        notes="`repeats`, `max_repeats`, `min_sample_seconds`, `point_budget_seconds` for this experiment: it samples six arms per backend, so it overrides the global protocol",
    )


@dataclass(frozen=True)
class ResponsivenessTaskSizes:
    """samples per background task (short tasks let the background pause quickly)"""

    mc_python: int = key(20000, "~25 ms of pure Python", name="mc-python", minimum=1)
    mc_numba: int = key(2000000, "~20 ms of nogil Numba", name="mc-numba", minimum=1)


@dataclass(frozen=True)
class Responsiveness:
    """claim C3 — latency of a foreground probe while background compute runs, vs idle, at several GIL switch intervals"""

    enabled: bool = key(True, "run this experiment", notes="run this experiment")
    modes: list[str] = key(
        ["threads-python", "threads-numba", "processes-python"],
        'background compute, one point each, all in one job (mc-python threads hold the GIL, mc-numba threads release it, mc-python in a fork pool); every job also measures the idle baseline (mode "none")',
        minItems=1,
        uniqueItems=True,
        items={"enum": ["threads-python", "threads-numba", "processes-python"]},
        notes="one point each, in one job: `threads-python` (mc-python threads, hold the GIL), `threads-numba` (mc-numba threads, release it), `processes-python` (mc-python in a fork pool)",
    )
    workers: Auto | int = key(
        "auto",
        'background workers; "auto" = the cores granted (capped by usable cores and cores.max)',
        minimum=1,
        notes="background workers; `auto` = the cores granted (capped by usable cores and `cores.max`)",
    )
    switch_intervals_ms: list[float] = key(
        [0.5, 5, 50],
        "values of sys.setswitchinterval (ms) to measure under load; CPython's default is 5",
        minItems=1,
        uniqueItems=True,
        items={"exclusiveMinimum": 0},
        notes="`sys.setswitchinterval` values measured under load (CPython's default is 5 ms); the idle baseline runs at the default",
    )
    probe_period_ms: float = key(
        2,
        "a request arrives every this many ms; also the latency tolerance of the verdict",
        exclusiveMinimum=0,
        notes="request interval; also the verdict's tolerance: responsive = latency within one period of idle",
    )
    seconds_per_condition: float = key(
        1.0,
        "probe time per (background, switch interval) condition, split over the rounds",
        exclusiveMinimum=0,
        notes="probe time per condition, split over `rounds` (each window needs ≥ 20 periods; 1 s of 2 ms probes gives ~500 latencies per condition)",
    )
    rounds: int = key(
        3,
        "interleaved rounds, each visiting every condition once in random order",
        minimum=1,
        notes="interleaved rounds, each visiting every condition once in random order",
    )
    task_sizes: ResponsivenessTaskSizes = section(
        ResponsivenessTaskSizes,
        "samples per background task (short tasks let the background pause quickly)",
        notes="samples per background task (~25 / ~20 ms: short, so pausing is quick)",
    )


@dataclass(frozen=True)
class SingleCore:
    """claim C10 — threads on one pinned CPU doing I/O-bound, CPU-bound and mixed work"""

    enabled: bool = key(True, "run this experiment", notes="run this experiment")
    cpu: Auto | int = key(
        "auto",
        'the CPU to pin to; "auto" = the last CPU of this process\'s affinity',
        minimum=0,
        notes="the CPU to pin to; `auto` = the last CPU of the job's affinity (resolved where the job runs)",
    )
    kinds: list[str] = key(
        ["sleep", "tcp", "cpu", "mix"],
        "one point each, all in one job (tcp books a second core for its peer); sleep = time.sleep(io_ms), tcp = a request to a loopback server that answers after io_ms, cpu = mc-python task, mix = cpu task then sleep",
        minItems=1,
        uniqueItems=True,
        items={"enum": ["sleep", "tcp", "cpu", "mix"]},
        notes="one point each, in one job: `time.sleep(io_ms)`; a 1-byte request over loopback TCP answered after `io_ms`; an mc-python task; the mc-python task then the sleep",
    )
    thread_counts: list[int] = key(
        [1, 2, 4, 8, 16, 32, 64],
        "thread-pool sizes, all on the one CPU; must include 1 (the baseline)",
        minItems=2,
        uniqueItems=True,
        items={"minimum": 1},
        notes="pool sizes, all on the one CPU; must include 1 (the baseline of the gain)",
    )
    tasks: int = key(
        64,
        "tasks per sample (at least the largest thread count keeps every thread busy)",
        minimum=1,
        notes="tasks per sample; keep it ≥ the largest thread count",
    )
    io_ms: float = key(
        4,
        "I/O wait per sleep, tcp and mix task",
        exclusiveMinimum=0,
        notes="I/O wait of `sleep`, `tcp` and `mix` tasks",
    )
    cpu_samples: int = key(
        800,
        "mc-python samples per cpu and mix task (~1 ms)",
        minimum=1,
        notes="mc-python samples of `cpu` and `mix` tasks (~1 ms)",
    )


@dataclass(frozen=True)
class ContextSwitchProtocol:
    """overrides of the global protocol for this experiment, whose samples are short (a few ms of ping-pong) and compared round by round"""

    repeats: int = key(15, "minimum timed samples per mechanism", minimum=MEDIAN_SAMPLES)
    max_repeats: int = key(15, "adaptive sampling stops here", minimum=MEDIAN_SAMPLES)
    decisive_max_repeats: int = key(
        25,
        "while the process-pipe / thread-pipe ratio straddles its bar, sampling goes on up to here (within protocol.decisive_budget_seconds)",
        minimum=MEDIAN_SAMPLES,
    )


@dataclass(frozen=True)
class ContextSwitch:
    """claim C7 — thread vs process ping-pong, µs per switch, pinned to one CPU and unpinned"""

    enabled: bool = key(True, "run this experiment", notes="run this experiment")
    mechanisms: list[str] = key(
        ["thread-lock", "thread-event", "thread-pipe", "process-pipe", "process-mp-pipe"],
        "thread-lock = two Locks, thread-event = two Events, thread-pipe / process-pipe = os.pipe to a thread / forked process, process-mp-pipe = multiprocessing.Pipe to a forked process",
        minItems=2,
        uniqueItems=True,
        items={
            "enum": [
                "thread-lock",
                "thread-event",
                "thread-pipe",
                "process-pipe",
                "process-mp-pipe",
            ]
        },
        notes="`thread-lock` (two Locks), `thread-event` (two Events), `thread-pipe` (os.pipe to a thread), `process-pipe` (os.pipe to a forked process), `process-mp-pipe` (multiprocessing.Pipe to a forked process)",
    )
    pin_modes: list[str] = key(
        ["pinned", "unpinned"],
        "one point each, both in one job; pinned = both parties on one CPU, unpinned = wherever the OS puts them",
        minItems=1,
        uniqueItems=True,
        items={"enum": ["pinned", "unpinned"]},
        notes="one point each, in one job: both parties on one CPU, or wherever the OS puts them",
    )
    cpu: Auto | int = key(
        "auto",
        'the CPU of the pinned mode; "auto" = the last CPU of this process\'s affinity',
        minimum=0,
        notes="the CPU of the pinned mode; `auto` = the last CPU of the job's affinity",
    )
    round_trips_per_call: int = key(
        200,
        "round trips in one timed call (the protocol repeats calls up to min_sample_seconds)",
        minimum=1,
        notes="round trips in one timed call (the protocol repeats calls up to `min_sample_seconds`)",
    )
    count_round_trips: int = key(
        2000,
        "round trips of the untimed run that reads the OS context-switch counters",
        minimum=1,
        notes="round trips of the untimed run that reads the context-switch counters",
    )
    protocol: ContextSwitchProtocol = section(
        ContextSwitchProtocol,
        "overrides of the global protocol for this experiment, whose samples are short (a few ms of ping-pong) and compared round by round",
        notes="`repeats`, `max_repeats`, `decisive_max_repeats` for this experiment (the last: while the process-pipe / thread-pipe ratio, which decides C7 on one transport, straddles its bar, up to 25 samples within `protocol.decisive_budget_seconds`): a sample is a few ms of ping-pong, and the verdict compares mechanisms round by round, so more rounds cost ~1 s per point and keep one disturbed round from widening the interval (with 5–7 rounds the pinned ratio's interval reached [0.97, 1.25] on the 2-core VM, 2026-11-28; with 9 the pinned process/thread ratio, 1.01–1.03 in four runs of 2026-11-29, reached 1.06 at the top and straddled the 1.05 bar once)",
    )


@dataclass(frozen=True)
class Faults:
    """claim C6 — one faulty task among many under each pool; every faulty run in a sacrificial subprocess under a hard timeout"""

    enabled: bool = key(True, "run this experiment", notes="run this experiment")
    backends: list[str] = key(
        ["threads", "process-pool", "processes-fork", "loky", "dask-processes", "dask-threads"],
        "backend registry names (any with per-task submit), one point each, all in one job (Dask last); defaults cover every kind of supervision — threads = ThreadPoolExecutor (program-lost), process-pool = ProcessPoolExecutor, spawn (pool-broken), processes-fork = multiprocessing.Pool, fork (worker-replaced-task-lost), dask-processes = LocalCluster with a Nanny per worker (worker-restarted), loky = loky's reusable executor (pool-restarted), dask-threads = in-process LocalCluster (program-lost)",
        minItems=1,
        uniqueItems=True,
        notes="backend registry names, one point each, in one job; any backend with per-task submit (not `numba-parallel`), so a new backend needs only listing here. The defaults cover every kind of supervision in the descriptor: `threads` (ThreadPoolExecutor; program-lost), `process-pool` (ProcessPoolExecutor, spawn; pool-broken), `processes-fork` (multiprocessing.Pool, fork; worker-replaced-task-lost), `dask-processes` (LocalCluster, a Nanny per worker, 127.0.0.1; worker-restarted), `loky` (loky's reusable executor; pool-restarted: a dead worker fails the tasks in flight with TerminatedWorkerError and the executor starts fresh workers), `dask-threads` (in-process LocalCluster; program-lost). The table carries each backend's descriptor columns (`backend_isolation`, `backend_supervision`, …)",
    )
    faults: list[str] = key(
        ["exception", "exit", "segv", "sigkill", "memory"],
        "exception = a Python exception, exit = os._exit(1), segv = a null-pointer read, sigkill = SIGKILL to its own process, memory = allocate until an RLIMIT_AS set in the faulty worker stops it",
        minItems=1,
        uniqueItems=True,
        notes="`exception` (a Python exception), `exit` (`os._exit(1)`), `segv` (a null-pointer read), `sigkill` (SIGKILL to its own process), `memory` (allocate until an `RLIMIT_AS` set in the faulty worker stops it)",
    )
    workers: int = key(
        2,
        "workers (threads or processes) in each pool; 2 on any node: the outcome does not depend on the pool's width",
        minimum=1,
        notes="workers in each pool; 2 on any node: whether one failure spares the other workers does not depend on the pool's width, and wider Dask pools only start and restart slower",
    )
    tasks: int = key(
        8, "tasks submitted at once, one of them faulty", minimum=2, notes="tasks submitted at once"
    )
    faulty_task: int = key(
        3,
        "index of the faulty task (0 .. tasks-1) in a cell's first trial; later trials move it to the other indices, in an order drawn from the seed",
        minimum=0,
        notes="index of the task that fails (halfway through) in a cell's first trial; later trials move the fault to the other indices, in an order drawn from `seed`, so a loss that depends on where tasks landed (which worker held what) shows up",
    )
    trials: int = key(
        5,
        "trials per hard-fault cell (exit, segv, sigkill: a worker process or the program dies); an outcome is categorical, so the table counts them (trials_others_lost, trials_hung, trials_isolated, trials_caller_died)",
        minimum=1,
        notes="trials per hard-fault cell (`exit`, `segv`, `sigkill`: a worker process, or the program, dies). An outcome is categorical: the table keeps one row per cell with `trials`, `trials_others_lost` (trials where another task was lost or hung), `trials_hung` (some task never returned), `trials_isolated` (every other task completed), `trials_caller_died`, beside the columns of the most frequent outcome (the worse on a tie; timings are medians over the trials). A cell is never measured again for a shortfall of cores: a fork pool's hang is an outcome",
    )
    isolation_rate: float = key(
        0.3,
        "C6's bar: a pool isolates its tasks when the exact 95% upper bound of the rate of trials that lost another task is below this; a cell with no loss yet runs on until its clean trials show it (11 for 0.3) or max_trials",
        exclusiveMinimum=0,
        maximum=0.9,
        notes='C6\'s bar for "isolates": the exact (Clopper–Pearson) 95% upper bound of the rate of trials that lost or hung another task must lie below it. 5 clean trials bound it only at 52%: with a bar that loose, a Dask pool that loses a neighbour in about 1 of 6 trials (task placement) read "isolates" in one default run and "loses others" in the next (2026-12-06). A cell with no loss yet therefore runs on until its clean trials show the rate below the bar (11 trials for 0.3), or `max_trials`; one loss decides "can lose its neighbours" at once. The verdict reads this key\'s default',
    )
    max_trials: int = key(
        12,
        "trials at most per hard-fault cell that has lost no other task yet (isolation_rate sets how many it needs)",
        minimum=1,
        notes="trials at most per hard-fault cell that has lost no other task yet",
    )
    exception_trials: int = key(
        1,
        "trials per exception and memory cell; no pool turns an exception (a MemoryError under the memory fault's RLIMIT_AS is one) into a dead worker (it returns as the task's result wherever the task ran), so where it lands cannot change the outcome",
        minimum=1,
        notes="trials per `exception` and `memory` cell: no pool turns a Python exception into a dead worker (it returns as the task's result wherever the task ran), so its placement cannot change the outcome. The `memory` fault is one: under its `RLIMIT_AS` the allocation raises MemoryError, which the worker survives (in 22 default runs on the 2-core Xeon VM all 690 memory trials, 115 per pool, ended as the task's own error with every other task completed). Neither is one of C6's process-ending faults; 5 trials each would add ~15 s to the default run",
    )
    stop_at_first_loss: bool = key(
        True,
        "a cell stops at the first trial in which another task was lost or hung (the caller dying loses them all): one such trial decides that the pool can lose its neighbours; only isolation needs every trial",
        notes="a cell stops at the first trial in which another task was lost or hung (the caller dying loses them all): one such trial decides that the pool can lose its neighbours, and only isolation needs every trial. A fork pool whose dead worker's own task never returns while every other task completes isolates, so it runs every trial, as do Dask's nanny cells, which mostly isolate; threads, `process-pool` and loky lose their neighbours in the first trial of `exit`, `segv`, `sigkill`. Per trial on the 2-core VM (2026-12-06): threads 0.15 s, `process-pool` 0.6 s, `processes-fork` 0.85 s, loky 0.65 s, `dask-processes` 1.6–1.8 s: the job takes ~60 s (26 s with one trial per cell)",
    )
    task_seconds: float = key(
        0.05,
        "how long each task waits; the faulty one fails halfway",
        exclusiveMinimum=0,
        notes="how long each task waits",
    )
    hang_seconds: float = key(
        0.25,
        "once no task has settled for this long the run goes on to the recovery test; tasks still unsettled at its end count as hung",
        exclusiveMinimum=0,
        notes="once no task has settled for this long, the run tests recovery; tasks still unsettled at its end count as hung (a task that settles during the recovery test still counts as completed, so this only sets how long a fork pool's lost task is waited for: 1 s cost every `processes-fork` trial 0.5 s more). Over 22 default runs on the 2-core Xeon VM (1,971 trials, 5 runs with a CPU hog on one core) the longest silence between two settled tasks before the wait was 0.142 s, and no task ever settled after the wait began; 0.25 s is 5 tasks of `task_seconds` and 1.8 × that silence",
    )
    recovery_seconds: float = key(
        15,
        "how long a fresh task submitted after the faults may take before the pool counts as not recovered",
        exclusiveMinimum=0,
        notes="how long the fresh task may take before the pool counts as not recovered (it waits only as long as needed; a Dask worker restart takes ~1 s on an idle machine, ~7 s on a busy one)",
    )
    timeout_seconds: float = key(
        45,
        "hard timeout of one sacrificial run (pool start, tasks, recovery, close); a run still going is killed with its whole process tree and counts as hung",
        exclusiveMinimum=0,
        notes="hard bound on one faulty run (pool start to close); a run still going is killed with its tree and counts as hung",
    )
    memory_mib: int = key(
        128,
        "how far the memory fault may grow the faulty worker's address space (RLIMIT_AS = current size + this)",
        minimum=16,
        notes="how far the memory fault may grow the worker's address space: it cannot swap or wake the OOM killer",
    )
    dask_allowed_failures: int = key(
        1,
        "distributed.scheduler.allowed-failures (Dask's default 3 costs a worker restart per retry); a task that killed more workers than this ends as KilledWorker",
        minimum=0,
        notes="`distributed.scheduler.allowed-failures` (Dask's default 3 costs a worker restart per retry); a task on more dying workers than this ends as `KilledWorker`",
    )


@dataclass(frozen=True)
class HybridSizes:
    """task size per kernel"""

    dgemm: int = key(768, "matrix order of one block product", minimum=1)
    mc_numba: int = key(2000000, "samples per task", name="mc-numba", minimum=1)


@dataclass(frozen=True)
class HybridProtocol:
    """overrides of the global protocol for this experiment, which starts a pool per split and variant"""

    repeats: int = key(
        MEDIAN_SAMPLES, "minimum timed samples per split (at least 6)", minimum=MEDIAN_SAMPLES
    )
    max_repeats: int = key(MEDIAN_SAMPLES, "adaptive sampling stops here", minimum=MEDIAN_SAMPLES)
    min_sample_seconds: float = key(
        0.1, "each sample repeats the call until it lasts this long", exclusiveMinimum=0
    )
    point_budget_seconds: float = key(
        1, "sampling time per split once it has its minimum repeats", exclusiveMinimum=0
    )


@dataclass(frozen=True)
class Hybrid:
    """claim C9 — P processes x T threads at P·T = cores, inner BLAS/Numba pools limited or left unlimited"""

    enabled: bool = key(True, "run this experiment", notes="run this experiment")
    families: list[str] = key(
        ["dask-dgemm", "processes-numba"],
        "one point each, both in one job; dask-dgemm = Dask LocalCluster of P workers x T threads running DGEMM blocks (inner pool BLAS); processes-numba = P pool processes each running a Numba prange batch on T threads (inner pool Numba)",
        minItems=1,
        uniqueItems=True,
        items={"enum": ["dask-dgemm", "processes-numba"]},
        notes="`dask-dgemm`: a Dask LocalCluster of P worker processes × T threads, one DGEMM block per task (inner pool BLAS, raised by threadpoolctl past the Nanny's `OPENBLAS_NUM_THREADS=1`); `processes-numba`: P pool processes, each running a Numba `prange` batch of Monte Carlo tasks on T threads",
    )
    cores: Auto | int = key(
        "auto",
        'P·T; "auto" = the cores granted (capped by usable cores and cores.max)',
        minimum=1,
        notes="P·T; `auto` = the cores granted",
    )
    variants: list[str] = key(
        ["limited", "unlimited"],
        "limited = inner pool at T Numba threads or 1 BLAS thread; unlimited = its library default, one thread per CPU",
        minItems=1,
        uniqueItems=True,
        items={"enum": ["limited", "unlimited"]},
        notes="which inner-pool settings to run",
    )
    start_method: str = key(
        "forkserver",
        "how processes-numba starts its pool (fork is excluded: this job's own Numba pool may be running)",
        enum=["forkserver", "spawn"],
        notes="the pool of `processes-numba` (`forkserver` or `spawn`; fork is refused because the job process runs Numba's pool)",
    )
    tasks_per_core: int = key(
        4,
        "tasks per core in the fixed total work",
        minimum=2,
        notes="fixed total work = cores × this many tasks",
    )
    serial_tasks: int = key(
        16,
        "the serial reference runs the first this many tasks and is scaled to the whole work (all of them when there are fewer): one thread's time is linear in the tasks",
        minimum=1,
        notes="the serial reference runs this many of them (all when there are fewer) and is scaled to the whole work",
    )
    sizes: HybridSizes = section(
        HybridSizes,
        "task size per kernel",
        notes="matrix order of a block product / samples per task",
    )
    protocol: HybridProtocol = section(
        HybridProtocol,
        "overrides of the global protocol for this experiment, which starts a pool per split and variant",
        notes="`repeats`, `max_repeats`, `min_sample_seconds`, `point_budget_seconds` for this experiment (a pool start per split and variant, so a shorter budget than the global protocol)",
    )


@dataclass(frozen=True)
class Load:
    """claim C13 — open-loop stream of heavy requests at rising offered load, thread pool vs process pool"""

    enabled: bool = key(True, "run this experiment", notes="run this experiment")
    kernels: list[str] = key(
        ["mc-python", "mc-numba"],
        "one point per kernel, all in one job; kernels whose work grows linearly with size (unit sample)",
        minItems=1,
        uniqueItems=True,
        notes="one point each, in one job (`unit: sample` kernels, as for `task_size`)",
    )
    p: Auto | int = key(
        "auto",
        'workers per pool; "auto" = the cores granted (capped by usable cores and cores.max)',
        minimum=1,
        notes="workers per pool; `auto` = the cores granted",
    )
    loads: list[float] = key(
        [0.25, 0.5, 0.75, 1.0, 1.5],
        "offered load in load_unit; include loads above the pool's capacity (p cores) to saturate the process pool",
        minItems=2,
        uniqueItems=True,
        items={"exclusiveMinimum": 0},
        notes="offered load in `load_unit`; loads above the pool's capacity (p cores) saturate the process pool too",
    )
    load_unit: str = key(
        "pool",
        "loads are multiples of one core's capacity (core) or fractions of the pool's, p cores (pool: the same levels relative to the pool at every node size); the table's load is in cores either way",
        enum=["core", "pool"],
        notes="`pool`: loads are fractions of the pool's capacity (× p cores; at p = 2 the defaults are 0.5 … 3 cores); `core`: multiples of one core's capacity. The table's `load` is in cores either way",
    )
    request_seconds: float = key(
        0.005,
        "serial service time of one request (calibrated per kernel on one core)",
        exclusiveMinimum=0,
        notes="serial service time of one request; longer when the top level would offer more than `max_rate` requests/s",
    )
    max_rate: float = key(
        2000,
        "largest arrival rate (requests/s) a level offers: one thread submits every request; above it request_seconds grows to the top load in cores / max_rate",
        exclusiveMinimum=0,
        notes="largest arrival rate (requests/s) a level offers: one thread submits every request, so above it `request_seconds` grows to (top load in cores) / `max_rate` (96 ms at 128 cores)",
    )
    requests_per_worker: int = key(
        75,
        "at most this many requests per worker and level (p x this per level) ...",
        minimum=1,
        notes="at most p × this many requests per level ...",
    )
    requests: int | None = key(
        None,
        "... and at most this many per level (null = no cap beyond requests_per_worker)",
        minimum=1,
        notes="... and at most this many (`null`: no further cap) ...",
    )
    level_seconds: float = key(
        1.0,
        "at most this long an arrival window per level (fewer requests at low load)",
        exclusiveMinimum=0,
        notes="... arriving within at most this long (fewer requests at low load)",
    )
    drain_seconds: float = key(
        2,
        "after the last arrival, wait at most this long for answers; the rest are cancelled and counted as unfinished (an overloaded level lasts at most level_seconds + this)",
        exclusiveMinimum=0,
        notes="after the last arrival, wait at most this long; the rest are cancelled and counted as `unfinished` (an overloaded level lasts at most `level_seconds` + this)",
    )
    arrivals: str = key(
        "poisson",
        "inter-arrival times exponential (Poisson process) or constant",
        enum=["poisson", "fixed"],
        notes="exponential inter-arrival times, or `fixed`",
    )
    backends: list[str] = key(
        ["threads", "process-pool", "loky"],
        "backend registry names, each a pool of p workers taking the stream (started and warmed outside the timed streams); any with per-task submit whose workers are on this node — threads = ThreadPoolExecutor, process-pool = ProcessPoolExecutor (spawn), processes-fork / -forkserver / -spawn = multiprocessing.Pool, loky, dask-processes, dask-threads; not serial, numba-parallel, dask-cluster",
        minItems=1,
        uniqueItems=True,
        notes="backend registry names, a pool of p workers each (`threads` = ThreadPoolExecutor, `process-pool` = ProcessPoolExecutor with spawned workers, `loky` = joblib's reusable executor), started with the kernel's warm-up in every worker outside the timed streams. Any backend with per-task submit whose workers are on this node: also `processes-fork`, `processes-forkserver`, `processes-spawn` (multiprocessing.Pool: a queued request cannot be taken back, so each level's backlog is worked off, untimed, before the next), `loky`, `dask-processes`, `dask-threads`; `serial`, `numba-parallel` and `dask-cluster` are refused. The table's `backend` is the registry name; the verdict and plots tell threads from processes by its descriptor columns (`backend_isolation`)",
    )


@dataclass(frozen=True)
class Synchronization:
    """claim C12 — an unsynchronized shared counter (lost updates), the same with a lock (cost per increment), and a lock-ordering deadlock detected by acquire timeouts"""

    enabled: bool = key(True, "run this experiment", notes="run this experiment")
    mechanisms: list[str] = key(
        ["python-inline", "python-call", "python-lock", "numba-unsync", "numba-partials"],
        "python-inline = x = c[0]; c[0] = x + 1, python-call = the same through function calls, python-lock = python-call under a threading.Lock, numba-unsync = a nogil loop of plain increments, numba-partials = the same into per-thread padded slots summed afterwards",
        minItems=1,
        uniqueItems=True,
        notes="`python-inline` (`x = c[0]; c[0] = x + 1`), `python-call` (the same through two function calls, where CPython may switch threads), `python-lock` (`python-call` under a `threading.Lock`), `numba-unsync` (a nogil loop of plain increments, no atomics), `numba-partials` (the same into per-thread slots on separate cache lines, summed afterwards)",
    )
    threads: int = key(
        2,
        "threads incrementing the counter at once (the job books min(threads, cores granted) cores)",
        minimum=2,
        notes="threads racing on the counter (the job books at most the granted cores)",
    )
    python_increments: int = key(
        50000,
        "increments per thread in one call of a python-* mechanism",
        minimum=1,
        notes="increments per thread in one call of a `python-*` mechanism (~25 ms: several GIL switches)",
    )
    numba_increments: int = key(
        5000000,
        "increments per thread in one call of a numba-* mechanism",
        minimum=1,
        notes="increments per thread in one call of a `numba-*` mechanism",
    )
    deadlock_trials: int = key(
        5,
        "trials with opposite lock order (and as many with the same order as a control)",
        minimum=1,
        notes="opposite-order trials, and as many same-order controls",
    )
    rare_rate: float = key(
        0.05,
        "C12's bar for no risk: the exact 95% upper bound of the rate of racy calls must lie below it; an unsynchronized mechanism with no racy call yet is called on (untimed) until its calls show it (72 for 0.05) or the point budget runs out",
        exclusiveMinimum=0,
        maximum=0.5,
        notes='C12\'s bar for "no risk": the exact (Clopper–Pearson) 95% upper bound of the rate of racy calls must lie below it, so 0 racy calls in at least 72. An unsynchronized mechanism with no racy call after its timed samples is called on, untimed, until its calls show that (or the point budget runs out); one racy call decides that the risk is real. At 55%, 0 of 31 calls of a race that loses an update in ~5% of calls read "no" in one default run and "yes" (2 of 37) in the next (2026-12-06). The verdict reads this key\'s default',
    )
    lock_timeout_seconds: float = key(
        0.1,
        "timeout of every lock acquire in the deadlock trials; a deadlock is detected after about this long",
        exclusiveMinimum=0,
        maximum=5,
        notes="timeout of every acquire in the deadlock trials",
    )


@dataclass(frozen=True)
class Experiments:
    """The `experiments` section."""

    scaling: Scaling = section(
        Scaling,
        "claims C1, C2, C11 — strong and weak scaling of every kernel on every backend, p = 1 .. cores",
    )
    memory: Memory = section(
        Memory, "claim C4 — PSS/USS of the process tree vs workers, by backend and input sharing"
    )
    communication: Communication = section(
        Communication, "claim C5 — ping-pong round trip and bandwidth by transport and message size"
    )
    task_size: TaskSize = section(
        TaskSize,
        "claim C8 — fixed total work cut into tasks of rising size; crossover vs serial, pool start cost, per-task overhead",
    )
    responsiveness: Responsiveness = section(
        Responsiveness,
        "claim C3 — latency of a foreground probe while background compute runs, vs idle, at several GIL switch intervals",
    )
    single_core: SingleCore = section(
        SingleCore,
        "claim C10 — threads on one pinned CPU doing I/O-bound, CPU-bound and mixed work",
    )
    context_switch: ContextSwitch = section(
        ContextSwitch,
        "claim C7 — thread vs process ping-pong, µs per switch, pinned to one CPU and unpinned",
    )
    faults: Faults = section(
        Faults,
        "claim C6 — one faulty task among many under each pool; every faulty run in a sacrificial subprocess under a hard timeout",
    )
    hybrid: Hybrid = section(
        Hybrid,
        "claim C9 — P processes x T threads at P·T = cores, inner BLAS/Numba pools limited or left unlimited",
    )
    load: Load = section(
        Load,
        "claim C13 — open-loop stream of heavy requests at rising offered load, thread pool vs process pool",
    )
    synchronization: Synchronization = section(
        Synchronization,
        "claim C12 — an unsynchronized shared counter (lost updates), the same with a lock (cost per increment), and a lock-ordering deadlock detected by acquire timeouts",
    )


@dataclass(frozen=True)
class Config:
    """One coresweep run. Every key has a default; unknown keys are rejected.
    config/README.md documents each key."""

    seed: int = key(
        20261125,
        "root seed; per-task seeds come from numpy.random.SeedSequence(seed).spawn(tasks)",
        minimum=0,
        notes="root seed; every task's seed comes from `numpy.random.SeedSequence(seed).spawn(tasks)`, so all backends compute bit-identical results",
    )
    cores: Cores = section(Cores, "which core counts a run measures, and the node it plans for")
    interpreters: list[str] = key(
        ["current"],
        'interpreters to measure, each in its own uv environment under .venvs/<label>/: "current" (the Python coresweep runs under: no environment, ids without a suffix), a version ("3.13", "3.14t" free-threaded, "3.14+gil" free-threaded with PYTHON_GIL=1) or a path to a python executable; every point is measured once per interpreter',
        minItems=1,
        notes='the interpreters to measure; every point is measured once per interpreter, in jobs of its own (a job, and so a curve, never mixes interpreters). An entry is `current` (the Python coresweep runs under: no environment, and point and job ids without a suffix, so the default run is unchanged), a version (`"3.13"`, `"3.12.1"`; `"3.14t"` a free-threaded build; `"3.14+gil"` the free-threaded build run with `PYTHON_GIL=1`, label `3.14t+gil`; uv itself reads `3.14+gil` as the GIL build, which here is plain `"3.14"`: a version without `t` must give a GIL build, or its environment job fails) or a path to a python executable (run once to read its version and build). Quote versions: YAML reads an unquoted `3.10` as `3.1`. The list replaces the default: `["3.13"]` measures 3.13 alone, `[current, "3.13"]` both. Every interpreter but `current` gets a virtual environment `.venvs/<label>/` (git-ignored), made once by uv (`uv venv --python <request>`, then `uv pip install -e <checkout>`) and reused; its points\' ids end in `__py<label>`. Refused before anything is measured: a request that is neither a version nor a path, a Python older than 3.11, a free-threaded request before 3.13, a path that does not exist or is no python, two entries naming one interpreter; an interpreter uv cannot find or install, or an environment that fails to install (naming the package), fails its environment job (`logs/interpreters/<label>.log`) before any of its points runs',
    )
    dask_cluster: DaskCluster = section(
        DaskCluster,
        "the `dask-cluster` backend — an existing scheduler, or workers started on SLURM",
    )
    protocol: ProtocolSection = section(
        ProtocolSection, "how every point is sampled (experiments may override some keys)"
    )
    user_kernels: dict[str, UserKernel] = key(
        {},
        "your own functions as kernels, by name; list a name in an experiment's `kernels` (e.g. experiments.scaling.kernels) to measure it like a built-in kernel",
        propertyNames={"pattern": "^[A-Za-z0-9_.-]+$"},
    )
    experiments: Experiments = section(Experiments, "one section per claim experiment")


# --- what the model generates ---------------------------------------------------------------


def keys_of(cls: type) -> list[tuple[str, dataclasses.Field, Any, Key]]:
    """(config name, field, resolved type, Key) of a section's keys, in order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        k = f.metadata["key"]
        out.append((k.name or f.name, f, hints[f.name], k))
    return out


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return defaults(type(value)) if dataclasses.is_dataclass(value) else value
    return f.default


def defaults(cls: type | None = None) -> dict[str, Any]:
    """The defaults of a section (the whole config by default) as the validated config holds them."""
    cls = cls or Config
    return {
        name: _default(f)
        for name, f, _, _ in keys_of(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }


def _merge(base: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in rules.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


_SCALARS = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _fragment(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a Python annotation (without default and description)."""
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if tp is Any:
        return {}
    if dataclasses.is_dataclass(tp):
        return _object(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return {"type": "string", "enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:  # X | None
            frag = _fragment(rest[0])
            return {**frag, "type": [frag["type"], "null"]}
        return {"oneOf": [_fragment(a) for a in args]}
    if origin is list:
        items = _fragment(args[0]) if args else {}
        return {"type": "array", **({"items": items} if items else {})}
    if origin is dict:
        values = _fragment(args[1])
        return {"type": "object", **({"additionalProperties": values} if values else {})}
    raise TypeError(f"no JSON Schema for the annotation {tp!r}")


def _with_rules(frag: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    """Rules go to the alternative that is not "auto" (`Auto | int`: the integer's minimum)."""
    if "oneOf" in frag and rules:
        alts = [a if a.get("enum") == ["auto"] else _merge(a, rules) for a in frag["oneOf"]]
        return {"oneOf": alts}
    return _merge(frag, rules)


def _object(cls: type) -> dict[str, Any]:
    """A section: its keys, nothing else; keys without a default are required."""
    props, required = {}, []
    for name, f, tp, k in keys_of(cls):
        frag = k.schema if k.schema is not None else _with_rules(_fragment(tp), k.rules)
        frag = dict(frag)
        if f.default is not dataclasses.MISSING:
            frag["default"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
            frag["default"] = {} if dataclasses.is_dataclass(value) else value
        else:
            required.append(name)
        if k.doc is not None:
            frag["description"] = k.doc
        props[name] = frag
    out: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if required:
        out["required"] = required
    return {**out, "properties": props}


def schema() -> dict[str, Any]:
    """The config's JSON Schema (draft 2020-12), as written to SCHEMA_PATH."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "coresweep configuration",
        "description": " ".join((Config.__doc__ or "").split()),
        **{**_object(Config), "default": {}},
    }


def schema_text() -> str:
    """SCHEMA_PATH's content: a generated-file header, then the schema as YAML."""
    header = (
        "# GENERATED from src/coresweep/config_model.py: do not edit by hand.\n"
        f"# Change the model, then run `{REGENERATE}` (rewrites this file and config/README.md).\n"
    )
    body = yaml.safe_dump(
        schema(), sort_keys=False, allow_unicode=True, width=100, default_flow_style=None
    )
    return header + body


def _flow(value: Any) -> str:
    """A default as short YAML flow text: 0.00001, auto, [a, b], {k: v}."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.15f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(value, str):
        return value if re.fullmatch(r"\w[\w.+-]*", value) else json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"


def _cell(f: dataclasses.Field) -> str:
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return "(required)"
    value = _default(f)
    return (
        _flow(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else (f"`{_flow(value)}`")
    )


def _section(path: str) -> type:
    """The dataclass of a dotted section path ("" = top level, "user_kernels.*" = one kernel)."""
    cls: Any = Config
    for part in filter(None, path.split(".")):
        tp = {name: tp for name, _, tp, _ in keys_of(cls)}[part] if part != "*" else cls
        cls = typing.get_args(tp)[1] if typing.get_origin(tp) is dict else tp
    return cls


def _rows(cls: type, prefix: str, tables: set[str]) -> list[str]:
    """Rows of a section's keys, named from prefix on; a section without notes is flattened."""
    out = []
    for name, f, tp, k in keys_of(cls):
        full = f"{prefix}{name}"
        if any(t == full or t.startswith(full + ".") for t in tables):
            continue  # a table of its own
        if dataclasses.is_dataclass(tp) and k.notes is None:
            out += _rows(tp, f"{full}.", tables)
        else:
            out.append(f"| `{full}` | {_cell(f)} | {k.notes or k.doc or ''} |")
    return out


def key_table(path: str, tables: set[str]) -> list[str]:
    """The README's table of one section's keys (nested sections flattened, or one row)."""
    absolute = {t.removeprefix(path + ".") for t in tables if t.startswith(path + ".")}
    rows = _rows(_section(path), "", absolute if path else tables)
    return ["| key | default | meaning |", "|---|---|---|", *rows]


def _path(label: str) -> str:
    """A marker's section: `(top level)`, `protocol`, `user_kernels.*`, `experiments.load`."""
    return "" if label == TOP else label


def readme_text(text: str) -> str:
    """config/README.md with every generated key table rewritten from the model."""
    lines = text.splitlines()
    tables = {_path(m.group(1)) for line in lines if (m := _BEGIN.match(line))}
    out, inside = [], False
    for line in lines:
        if m := _BEGIN.match(line):
            out += [line, *key_table(_path(m.group(1)), tables)]
            inside = True
        elif line == _END:
            out.append(line)
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out) + "\n"


def write(schema_path: Path = SCHEMA_PATH, readme_path: Path = README_PATH) -> list[Path]:
    """Rewrite the generated files from the model; the ones that changed."""
    changed = []
    for path, new in (
        (schema_path, schema_text()),
        (readme_path, readme_text(readme_path.read_text())),
    ):
        if path.read_text() != new:
            path.write_text(new)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for p in write():
        print(f"rewrote {p}", file=sys.stderr)
