"""The claims registry: each claim of the article, its experiment, deciding quantity and rule."""

from __future__ import annotations

from dataclasses import dataclass


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
            "supported where the best process backend's speedup CI lower bound reaches half the "
            "ideal gain, 1 + (p-1)/2, for every compute-bound kernel; conditional when only some; "
            "refuted when none; inconclusive with fewer than 2 cores",
        ),
        Claim(
            "C2",
            "multithreading improves CPU utilization",
            "scaling",
            "busy cores = CPU time / wall time of the thread backend, and its speedup",
            "supported where threads keep more than 1 + (p-1)/2 cores busy and run faster than "
            "serial by more than the difference threshold; conditional by kernel kind",
        ),
        Claim(
            "C3",
            "the application remained responsive while performing background tasks",
            "responsiveness",
            "probe latency p50 / p99 / max and achieved rate under background compute (GIL "
            "threads, nogil threads, processes; p = granted cores) vs idle, at 0.5 / 5 / 50 ms "
            "switch intervals",
            "per thread mode (pure-Python, Numba nogil) at the default switch interval, p50 and "
            "p99 each: responsive when the latency CI stays within one probe period of the idle "
            "latency of the same job and >= 99% of requests are answered; supported if all hold, "
            "conditional if some, refuted if none; inconclusive if an interval straddles the "
            "tolerance; processes are reported for comparison, not counted",
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
            ">= half its size per worker (copied, fork copy-on-write, shared_memory); "
            "supported if every scenario holds, conditional if some hold and some fail, "
            "refuted if none holds; inconclusive while a scenario is undecided otherwise",
        ),
        Claim(
            "C5",
            "threads share information quickly; processes need complex synchronization",
            "communication",
            "ping-pong round trip (µs) and bandwidth (GB/s), 8 B .. 64 MiB: thread queue vs "
            "Pipe, Queue and shared_memory + Event; Dask threads vs Dask processes",
            "per message size, threads are faster when the round-trip ratio (fastest process "
            "transport / thread side) has its CI above 1 + threshold, not faster when it is "
            "below; supported at every size, conditional when faster at some and not at others "
            "(crossover stated), refuted at none, inconclusive while a size is undecided "
            "otherwise; the 'complex synchronization' half is not measured",
        ),
        Claim(
            "C6",
            "failure of one processor does not necessarily affect the others",
            "faults",
            "per fault (exception, os._exit, SIGSEGV, SIGKILL, memory blow-up) x pool: other "
            "tasks completed / lost / hung, time until the caller sees an error, whether the "
            "pool runs a fresh task afterwards",
            "supported when every process pool isolates every process-ending fault (caller alive, "
            "all other tasks completed, error surfaced, pool recovered); conditional when only "
            "some do, or none do but process pools keep the caller alive where thread pools "
            "die with it; refuted otherwise",
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
            "supported if quicker pinned and unpinned, conditional if in one, refuted if in "
            "none; inconclusive if a CI straddles the threshold",
        ),
        Claim(
            "C8",
            "multiprocessing is more suited for large-scale ... applications",
            "task_size",
            "crossover task size above which a backend beats serial (speedup CI lower bound > 1, "
            "log-interpolated over 10 µs .. 100 ms tasks); cold start per start method and Dask; "
            "warm overhead per task vs Dask's documented 200 µs - 1 ms",
            "supported where every process backend loses on the smallest tasks and wins on the "
            "largest (a crossover inside the range), for every kernel; conditional when only some; "
            "refuted when none; inconclusive with fewer than 2 cores",
        ),
        Claim(
            "C9",
            "both techniques can be combined for optimized performance",
            "hybrid",
            "wall time over the P processes x T threads grid at P·T = cores, inner pools limited; "
            "oversubscription penalty = unlimited / limited inner pools",
            "supported where the best hybrid split (P>1 and T>1) beats the best pure split beyond "
            "both 95% intervals and the difference threshold; refuted where the pure split wins "
            "so; inconclusive when intervals overlap or no hybrid split exists (< 4 cores)",
        ),
        Claim(
            "C10",
            "multithreading can be effectively used in single-processor systems",
            "single_core",
            "throughput (tasks/s) and per-task latency vs 1..64 threads pinned to one CPU, "
            "for sleep, loopback-TCP, CPU-bound (mc-python) and mixed tasks",
            "per kind, throughput at the largest thread count over 1 thread: effective when the "
            "ratio's CI lower bound exceeds 1 + threshold; supported if every kind gains, "
            "conditional if some, refuted if none",
        ),
        Claim(
            "C11",
            "tasks broken into concurrent threads complete faster",
            "scaling",
            "strong-scaling speedup of the thread backend per kernel kind",
            "supported where threads beat serial (speedup CI above 1 + threshold) for every "
            "kernel; conditional when only for kernels that release the GIL; refuted when none",
        ),
        Claim(
            "C12",
            "the primary risks ... involve thread synchronization and potential deadlocks",
            "synchronization",
            "lost-update rate of an unsynchronized shared counter (Python and Numba nogil "
            "threads); ns per increment with a lock or partial sums; a lock-order deadlock "
            "detected by acquire timeouts",
            "supported when some unsynchronized mechanism loses updates and opposite lock "
            "order deadlocks (detected, never hanging); conditional when only one of the two "
            "shows; refuted when neither",
        ),
        Claim(
            "C13",
            "multiprocessing ... to prevent bottlenecks during peak hours",
            "load",
            "throughput and p50/p99 latency vs offered load (open loop), thread pool vs process "
            "pool of p workers, per kernel kind",
            "supported where the process pool's saturation throughput beats the thread pool's "
            "beyond both 95% intervals and the difference threshold for every kernel; conditional "
            "when only for some kernel kinds; refuted when for none",
        ),
    )
}
