"""The claims registry: each claim of the article, its experiment and deciding quantity, and
the one list of experiments that every layer reads.

How each claim is decided is its declaration in analysis/verdicts/<experiment>.py (bar,
band, disturbances, how sub-cases combine); the rule's words are rendered from it
(analysis.verdicts.engine.Claim.rule), so they cannot drift from the code.

An experiment is one module per layer (`Modules`), found by convention from its name: its
points and records, its verdict rule, its figures. Adding a claim with its own experiment is
those three modules, its `Claim` in CLAIMS and its name in EXPERIMENT_MODULES, both below;
the workflow's captions read the claim ids from CLAIMS.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Modules:
    """Where each layer keeps its part of one experiment (dotted module names)."""

    experiment: str  # defines EXPERIMENT (points, measure, aggregate)
    verdicts: str  # defines <name>_verdicts and the claims it declares (CLAIMS)
    plots: str  # defines <name>_plots

    @classmethod
    def of(cls, name: str) -> Modules:
        """Experiment `name`'s modules by convention: <layer package>.<name>."""
        return cls(
            f"coresweep.experiments.{name}",
            f"coresweep.analysis.verdicts.{name}",
            f"coresweep.report.plots.{name}",
        )


#: every experiment, in report order, and its modules: the one list of experiment names
EXPERIMENT_MODULES: dict[str, Modules] = {
    name: Modules.of(name)
    for name in ("scaling", "task_size", "hybrid", "load", "memory", "communication",
                 "responsiveness", "single_core", "context_switch", "faults", "synchronization")
}  # fmt: skip


def modules_of(name: str) -> Modules:
    """Experiment `name`'s modules (KeyError for a name the registry does not hold)."""
    return EXPERIMENT_MODULES[name]


@dataclass(frozen=True)
class Claim:
    id: str
    quote: str  # the article's words, shortened
    experiment: str  # registry name of the experiment that decides it
    quantity: str  # what is measured


CLAIMS: dict[str, Claim] = {
    c.id: c
    for c in (
        Claim(
            "C1",
            "multiprocessing ... can significantly reduce processing time (compute-intensive "
            "tasks)",
            "scaling",
            "strong-scaling speedup S(p) and efficiency S(p)/p with 95% CI; CPU-seconds per unit",
        ),
        Claim(
            "C2",
            "multithreading improves CPU utilization",
            "scaling",
            "busy cores = CPU time / wall time of the thread backend, and its speedup",
        ),
        Claim(
            "C3",
            "the application remained responsive while performing background tasks",
            "responsiveness",
            "probe latency p50 / p99 / max and achieved rate under background compute (GIL "
            "threads, nogil threads, processes; p = granted cores) vs idle, at 0.5 / 5 / 50 ms "
            "switch intervals",
        ),
        Claim(
            "C4",
            "separate memory for each process ... require more memory",
            "memory",
            "PSS, USS and data PSS (anonymous + shared memory) of the whole process tree "
            "sampled at >= 10 Hz; MiB per extra worker = slope over N with 95% CI, idle and "
            "working, without an input and with one copied, fork-inherited or in shared_memory",
        ),
        Claim(
            "C5",
            "threads share information quickly; processes need complex synchronization",
            "communication",
            "ping-pong round trip (µs) and bandwidth (GB/s), 8 B .. 64 MiB: thread queue vs "
            "Pipe, Queue and shared_memory + Event; Dask threads vs Dask processes",
        ),
        Claim(
            "C6",
            "failure of one processor does not necessarily affect the others",
            "faults",
            "per fault (exception, os._exit, SIGSEGV, SIGKILL, memory blow-up) x pool: other "
            "tasks completed / lost / hung, time until the caller sees an error, whether the "
            "pool runs a fresh task afterwards",
        ),
        Claim(
            "C7",
            "multithreading is suitable for tasks requiring quick context switches",
            "context_switch",
            "µs per switch (ping-pong round trip / 2) for locks, events, os.pipe between "
            "threads vs os.pipe and multiprocessing.Pipe between processes, pinned and "
            "unpinned; OS voluntary / involuntary context switches per round trip",
        ),
        Claim(
            "C8",
            "multiprocessing is more suited for large-scale ... applications",
            "task_size",
            "crossover task size above which a backend beats serial (speedup CI lower bound > "
            "1, log-interpolated over 10 µs .. 100 ms tasks); cold start per start method and "
            "Dask; warm overhead per task vs Dask's documented 200 µs - 1 ms",
        ),
        Claim(
            "C9",
            "both techniques can be combined for optimized performance",
            "hybrid",
            "wall time over the P processes x T threads grid at P·T = cores, inner pools "
            "limited; oversubscription penalty = unlimited / limited inner pools",
        ),
        Claim(
            "C10",
            "multithreading can be effectively used in single-processor systems",
            "single_core",
            "throughput (tasks/s) and per-task latency vs 1..64 threads pinned to one CPU, for "
            "sleep, loopback-TCP, CPU-bound (mc-python) and mixed tasks",
        ),
        Claim(
            "C11",
            "tasks broken into concurrent threads complete faster",
            "scaling",
            "strong-scaling speedup of the thread backend per kernel kind",
        ),
        Claim(
            "C12",
            "the primary risks ... involve thread synchronization and potential deadlocks",
            "synchronization",
            "lost-update rate of an unsynchronized shared counter (Python and Numba nogil "
            "threads); ns per increment with a lock or partial sums; a lock-order deadlock "
            "detected by acquire timeouts",
        ),
        Claim(
            "C13",
            "multiprocessing ... to prevent bottlenecks during peak hours",
            "load",
            "throughput and p50/p99 latency vs offered load (open loop), thread pool vs process "
            "pool of p workers, per kernel kind",
        ),
    )
}
