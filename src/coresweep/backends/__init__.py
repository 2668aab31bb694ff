"""Backend registry: adding an execution model is one module and one line here."""

from __future__ import annotations

from coresweep.backends.base import Backend
from coresweep.backends.dask_cluster import DaskClusterBackend
from coresweep.backends.dask_local import DaskProcessesBackend, DaskThreadsBackend
from coresweep.backends.executor import ProcessPoolBackend
from coresweep.backends.loky import LokyBackend
from coresweep.backends.numba_parallel import NumbaParallelBackend
from coresweep.backends.processes import ForkBackend, ForkserverBackend, SpawnBackend
from coresweep.backends.serial import SerialBackend
from coresweep.backends.subinterpreters import SubinterpretersBackend
from coresweep.backends.threads import ThreadsBackend

BACKENDS: dict[str, type[Backend]] = {
    b.name: b
    for b in (
        SerialBackend,
        ThreadsBackend,
        ForkBackend,
        ForkserverBackend,
        SpawnBackend,
        ProcessPoolBackend,
        LokyBackend,
        DaskProcessesBackend,
        DaskThreadsBackend,
        NumbaParallelBackend,
        DaskClusterBackend,
        SubinterpretersBackend,
    )
}


def make_backend(name: str, workers: int) -> Backend:
    """A backend instance by registry name; a clear error listing the known ones otherwise."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; known: {', '.join(sorted(BACKENDS))}") from None
    return cls(workers)


__all__ = ["BACKENDS", "Backend", "make_backend"]
