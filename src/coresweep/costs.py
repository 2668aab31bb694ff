"""The one cost model of pools: start-up, per-task dispatch, shutdown and restart seconds.

Keyed by what a backend is (its descriptor's start method, isolation, dispatch and
supervision), never by its name, so every estimate reads the same numbers: the planner's
predictions of every experiment, advise's budget, the faults experiment's cells, the plots'
shades and the cleanup of helper processes. A start method not in START_COSTS is refused by
the Descriptor, so a new one gets its own row here, not another method's costs.

Measured on this project's 2-core VMs (Python 3.11): a pool of 2 workers that import numpy
started in 0.01 s (fork), 0.68 (forkserver), 0.66 (spawn), 0.30-0.68 (loky), 0.57-0.85 (Dask's
nannies) and stopped in 0.007, 0.008, 0.16, 0.015 and 0.27 s (task_size and scaling tables of
the default runs G and H, 2026-12-07).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: multiprocessing's helper processes, by the module each runs
MP_TRACKER = "multiprocessing.resource_tracker"
LOKY_TRACKER = "loky.backend.resource_tracker"
FORKSERVER = "multiprocessing.forkserver"


@dataclass(frozen=True)
class StartCost:
    """Predicted seconds of a pool of one start method, and the helpers it leaves running.

    Start of `workers` workers on `cores` cores, up to workers that imported numpy:
    `fixed + per_worker * workers + per_wave * waves` (launches are serial in the parent,
    imports run a wave per `cores` workers). `stop`: its shutdown. `bare`: start and close
    of a pool of 2 workers that import nothing (a fault cell's pool). `trackers` and
    `servers`: the helper processes (by module) that outlive the pool in its parent:
    resource trackers (they exit on their own once their clients are gone) and servers.
    """

    fixed: float
    per_worker: float
    per_wave: float
    stop: float
    bare: float
    trackers: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()

    @property
    def starts_processes(self) -> bool:
        """Whether the method starts worker processes (they leave helpers behind)."""
        return bool(self.trackers or self.servers)


#: by start method (Descriptor.start_method): "none" (threads of the caller), "fork",
#: "forkserver", "spawn", "loky" (fork + exec of a fresh interpreter), "nanny" (Dask's
#: worker nanny), "interpreter" (a subinterpreter in the caller's process, ~12 ms to create).
#: Fault cells (bare), measured per cell without a fault (threads 0.17 s, fork 0.36, spawn
#: 0.29, loky 0.58, Dask nannies 1.1, each with the subprocess and 8 tasks of 50 ms on 2
#: workers). The order of the process start methods is the plots' order of shades.
START_COSTS: dict[str, StartCost] = {
    "none": StartCost(0.0, 0.001, 0.0, stop=0.0, bare=0.0),
    "fork": StartCost(0.05, 0.005, 0.0, stop=0.01, bare=0.0, trackers=(MP_TRACKER,)),
    "forkserver": StartCost(
        0.3, 0.02, 0.3, stop=0.01, bare=0.2, trackers=(MP_TRACKER,), servers=(FORKSERVER,)
    ),
    "spawn": StartCost(0.0, 0.05, 0.4, stop=0.15, bare=0.1, trackers=(MP_TRACKER,)),
    "loky": StartCost(0.0, 0.05, 0.4, stop=0.02, bare=0.2, trackers=(LOKY_TRACKER,)),
    "nanny": StartCost(1.0, 0.05, 0.5, stop=0.3, bare=0.7, trackers=(MP_TRACKER,)),
    "interpreter": StartCost(0.0, 0.05, 0.4, stop=0.01, bare=0.05),
}
#: the values Descriptor.start_method may take
START_METHODS = tuple(START_COSTS)

#: predictions only: what a lost worker adds to a fault cell, by the descriptor's supervision
#: (measured here: Dask's Nanny restarts one in ~0.6 s; Pool forks one and loky restarts at
#: once); the caller's own process ("program-lost") and a broken pool restart nothing
RESTART_SECONDS = {
    "program-lost": 0.0,
    "pool-broken": 0.0,
    "pool-restarted": 0.0,
    "worker-replaced-task-lost": 0.0,
    "worker-restarted": 0.6,
}


class Described(Protocol):
    """The descriptor fields the cost model reads (coresweep.backends.base.Descriptor)."""

    @property
    def isolation(self) -> str: ...
    @property
    def start_method(self) -> str: ...
    @property
    def supervision(self) -> str: ...
    @property
    def dispatch(self) -> str: ...
    @property
    def batch(self) -> bool: ...


def start_cost(d: Described) -> StartCost:
    """The cost row of a descriptor's start method (KeyError for one the table lacks)."""
    return START_COSTS[d.start_method]


def start_seconds(d: Described, workers: int, cores: int) -> float:
    """Predicted start of a pool of `workers` on `cores` cores, up to workers that imported
    numpy (see StartCost)."""
    c = start_cost(d)
    waves = -(-workers // max(1, cores))  # ceil
    return c.fixed + c.per_worker * workers + c.per_wave * waves


def stop_seconds(d: Described) -> float:
    """Predicted shutdown of a pool."""
    return start_cost(d).stop


def cell_pool_seconds(d: Described) -> float:
    """Predicted start and close of a fault cell's pool (workers that import nothing)."""
    return start_cost(d).bare


def restart_seconds(d: Described) -> float:
    """Predicted seconds a pool takes to replace a worker that died, by its supervision."""
    return RESTART_SECONDS[d.supervision]


def dispatch_seconds(d: Described) -> float:
    """Predicted cost of handing one task to a worker, serial in the caller: a plain call; a
    thread pool's queue; a pickled task through a pool's pipe; a task through Dask's
    scheduler (~1 ms; ~0.5 ms to threads of this process). Zero for a batch backend: one
    call takes every task."""
    if d.batch:
        return 0.0
    if d.dispatch == "scheduler":
        return 5e-4 if d.isolation == "thread" else 1e-3
    return {"inline": 1e-6, "thread": 3e-5}.get(d.isolation, 1e-4)


def helper_count(d: Described) -> int:
    """How many helper processes a pool of this start method leaves in its parent."""
    c = start_cost(d)
    return len(c.trackers) + len(c.servers)


def tracker_modules() -> tuple[str, ...]:
    """The modules of every resource tracker a start method leaves behind."""
    return tuple(dict.fromkeys(m for c in START_COSTS.values() for m in c.trackers))


def helper_modules() -> tuple[str, ...]:
    """The modules of every helper process (trackers, then servers) a start method leaves."""
    servers = (m for c in START_COSTS.values() for m in c.servers)
    return (*tracker_modules(), *dict.fromkeys(servers))


def process_start_methods() -> tuple[str, ...]:
    """The start methods that start worker processes, in the table's order."""
    return tuple(m for m, c in START_COSTS.items() if c.starts_processes)
