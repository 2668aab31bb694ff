"""The claims registry: each claim of the article, its experiment, deciding quantity and rule."""

from __future__ import annotations

from dataclasses import dataclass

#: how every rule turns its sub-cases into a verdict (analysis.verdicts.combine); a point
#: decides when its interval clears the bar, and a flag keeps it from deciding only where the
#: flag could have caused that outcome
COMBINE = (
    "supported if every sub-case holds, refuted if every one fails, conditional when they "
    "differ or only some are decided (the undecided named), inconclusive when none is"
)


@dataclass(frozen=True)
class Claim:
    id: str
    quote: str  # the article's words, shortened
    experiment: str  # registry name of the experiment that decides it
    quantity: str  # what is measured
    rule: str  # how the verdict follows from the numbers


CLAIMS: dict[str, Claim] = {
    c.id: c
    for c in (
        Claim(
            "C1",
            "multiprocessing ... can significantly reduce processing time (compute-intensive tasks)",
            "scaling",
            "strong-scaling speedup S(p) and efficiency S(p)/p with 95% CI; CPU-seconds per unit",
            "per compute-bound kernel at the largest p: holds when some process backend's speedup "
            "interval lies above half the ideal gain, 1 + (p-1)/2, fails when every one lies "
            "below; " + COMBINE + "; inconclusive with fewer than 2 cores",
        ),
        Claim(
            "C2",
            "multithreading improves CPU utilization",
            "scaling",
            "busy cores = CPU time / wall time of the thread backend, and its speedup",
            "per kernel: holds when a thread backend keeps at least 1 + (p-1)/2 cores busy and its "
            "speedup interval lies above 1 + threshold, fails when it keeps fewer busy or its "
            "interval lies below; " + COMBINE,
        ),
        Claim(
            "C3",
            "the application remained responsive while performing background tasks",
            "responsiveness",
            "probe latency p50 / p99 / max and achieved rate under background compute (GIL "
            "threads, nogil threads, processes; p = granted cores) vs idle, at 0.5 / 5 / 50 ms "
            "switch intervals",
            "per thread mode (pure-Python, Numba nogil) at the default switch interval, p50 and "
            "p99 each: responsive when the latency interval stays within one probe period of the "
            "idle latency of the same job and >= 99% of requests are answered, not when it lies "
            "beyond; undecided when an interval straddles the tolerance or the idle baseline "
            "misses it; " + COMBINE + "; processes are reported for comparison, not counted",
        ),
        Claim(
            "C4",
            "separate memory for each process ... require more memory",
            "memory",
            "PSS, USS and data PSS (anonymous + shared memory) of the whole process tree "
            "sampled at >= 10 Hz; MiB per extra worker = slope over N with 95% CI, idle and "
            "working, without an input and with one copied, fork-inherited or in shared_memory",
            "per scenario, a process backend needs more memory when its per-worker data PSS "
            "interval lies above the threads' by > 1 MiB (no input), or when the input adds "
            ">= half its size per worker (copied, fork copy-on-write, shared_memory); not when "
            "the intervals exclude that; " + COMBINE,
        ),
        Claim(
            "C5",
            "threads share information quickly; processes need complex synchronization",
            "communication",
            "ping-pong round trip (µs) and bandwidth (GB/s), 8 B .. 64 MiB: thread queue vs "
            "Pipe, Queue and shared_memory + Event; Dask threads vs Dask processes",
            "per message size, threads are faster when the round-trip ratio (fastest process "
            "transport / thread side) has its CI above 1 + threshold, not faster when below; "
            + COMBINE
            + " (crossover stated); the 'complex synchronization' half is not measured",
        ),
        Claim(
            "C6",
            "failure of one processor does not necessarily affect the others",
            "faults",
            "per fault (exception, os._exit, SIGSEGV, SIGKILL, memory blow-up) x pool: other "
            "tasks completed / lost / hung, time until the caller sees an error, whether the "
            "pool runs a fresh task afterwards",
            "per process pool: holds when it isolates every process-ending fault (caller alive, "
            "all other tasks completed, error surfaced, pool recovered), fails otherwise (a hang "
            "under a loaded machine is undecided); " + COMBINE + "; conditional too when no pool "
            "isolates but process pools keep the caller alive where thread pools die with it",
        ),
        Claim(
            "C7",
            "multithreading is suitable for tasks requiring quick context switches",
            "context_switch",
            "µs per switch (ping-pong round trip / 2) for locks, events, os.pipe between threads "
            "vs os.pipe and multiprocessing.Pipe between processes, pinned and unpinned; OS "
            "voluntary / involuntary context switches per round trip",
            "per pin mode, best thread vs best process mechanism: threads quicker when the CI of "
            "the process/thread time ratio lies above 1 + threshold, not quicker when below; "
            + COMBINE,
        ),
        Claim(
            "C8",
            "multiprocessing is more suited for large-scale ... applications",
            "task_size",
            "crossover task size above which a backend beats serial (speedup CI lower bound > 1, "
            "log-interpolated over 10 µs .. 100 ms tasks); cold start per start method and Dask; "
            "warm overhead per task vs Dask's documented 200 µs - 1 ms",
            "per kernel and process backend: holds when its speedup interval lies below 1 on the "
            "smallest tasks and above 1 on the largest, fails when it wins on the smallest or "
            "loses on the largest; " + COMBINE + "; inconclusive with fewer than 2 cores",
        ),
        Claim(
            "C9",
            "both techniques can be combined for optimized performance",
            "hybrid",
            "wall time over the P processes x T threads grid at P·T = cores, inner pools limited; "
            "oversubscription penalty = unlimited / limited inner pools",
            "per family: holds when the best hybrid split (P>1 and T>1) is faster than the best "
            "pure split by more than the threshold beyond both intervals, fails when even the "
            "widest ratio stays below; " + COMBINE + "; inconclusive with < 4 cores (no hybrid "
            "split)",
        ),
        Claim(
            "C10",
            "multithreading can be effectively used in single-processor systems",
            "single_core",
            "throughput (tasks/s) and per-task latency vs 1..64 threads pinned to one CPU, "
            "for sleep, loopback-TCP, CPU-bound (mc-python) and mixed tasks",
            "per kind, throughput at the largest thread count over 1 thread: effective when the "
            "ratio's CI lies above 1 + threshold, not when below; " + COMBINE,
        ),
        Claim(
            "C11",
            "tasks broken into concurrent threads complete faster",
            "scaling",
            "strong-scaling speedup of the thread backend per kernel kind",
            "per kernel: holds when a thread backend's speedup interval lies above 1 + threshold, "
            "fails when every one lies below; " + COMBINE,
        ),
        Claim(
            "C12",
            "the primary risks ... involve thread synchronization and potential deadlocks",
            "synchronization",
            "lost-update rate of an unsynchronized shared counter (Python and Numba nogil "
            "threads); ns per increment with a lock or partial sums; a lock-order deadlock "
            "detected by acquire timeouts",
            "holds per risk: some unsynchronized mechanism loses updates; opposite lock order "
            "deadlocks (detected, never hanging); " + COMBINE,
        ),
        Claim(
            "C13",
            "multiprocessing ... to prevent bottlenecks during peak hours",
            "load",
            "throughput and p50/p99 latency vs offered load (open loop), thread pool vs process "
            "pool of p workers, per kernel kind",
            "per kernel: holds when the process pool's saturation throughput exceeds the thread "
            "pool's by more than the threshold beyond both intervals, fails when even the widest "
            "ratio stays below; " + COMBINE,
        ),
    )
}
