"""Backend registry: adding an execution model is one module and one line here."""

from __future__ import annotations

import dataclasses

from coresweep.backends.base import Backend, Descriptor
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


def select(**facts: object) -> str:
    """The name of the one registered backend whose descriptor has every given fact, e.g.
    `select(isolation="process", start_method="spawn", dispatch="caller")`; ValueError
    naming the facts and the matches when none or several match, or a fact is no field."""
    known = {f.name for f in dataclasses.fields(Descriptor)}
    unknown = sorted(set(facts) - known)
    if unknown:
        raise ValueError(f"select: {unknown} are no descriptor fields; fields: {sorted(known)}")
    found = [
        name
        for name, cls in BACKENDS.items()
        if all(getattr(cls.descriptor, k) == v for k, v in facts.items())
    ]
    if len(found) != 1:
        raise ValueError(f"select: {len(found)} backends have {facts} (want exactly 1): {found}")
    return found[0]


__all__ = ["BACKENDS", "Backend", "make_backend", "select"]
