"""Checks of an experiment's config section against the node: core counts, pool sizes,
pinning, kernel sizes, backend and other names, memory limits, CPUs to pin to. Each refusal
is a ConfigError naming the config key and what it allows."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from coresweep.config import ConfigError
from coresweep.kernels import Kernel
from coresweep.measure.cores import Node, affinity
from coresweep.measure.sched import choose_cpu

log = logging.getLogger("coresweep")


def core_counts(spec: Any, cores_cfg: dict[str, Any], node: Node, key: str) -> list[int]:
    """The p values to measure: "auto" = 1, 2, 4, ... up to the cap, or an explicit list.

    The cap is min(cores granted, the node's usable cores, cores.max). An explicit p above
    the node's usable cores is an error unless cores.oversubscribe is true.
    """
    usable = node.usable
    cap = node.cap
    if cores_cfg["max"] != "auto":
        cap = min(cap, int(cores_cfg["max"]))
    if spec == "auto":
        ps = [1]
        while ps[-1] * 2 <= cap:
            ps.append(ps[-1] * 2)
        if ps[-1] != cap:
            ps.append(cap)
        return ps
    ps = sorted(int(p) for p in spec)
    if ps[0] < 1:
        raise ConfigError(f"config key {key}: p must be >= 1, got {ps[0]}")
    over = [p for p in ps if p > usable]
    if over and not cores_cfg["oversubscribe"]:
        raise ConfigError(
            f"config key {key}: p={over} exceeds the {usable} usable cores "
            "(CPU affinity and cgroup quota); set cores.oversubscribe: true to measure it anyway"
        )
    return ps


def pool_size(spec: Any, cores_cfg: dict[str, Any], node: Node, key: str) -> int:
    """One worker count p: "auto" = the largest p core_counts allows, or an explicit integer."""
    return core_counts("auto" if spec == "auto" else [spec], cores_cfg, node, key)[-1]


def check_pinning(protocol: dict[str, Any], workers: int, key: str) -> None:
    """Pinning puts each worker on its own CPU: refuse more workers than the affinity set."""
    cpus = affinity()
    if protocol["pin_workers"] and workers > len(cpus):
        raise ConfigError(
            f"config key protocol.pin_workers: {key} asks for {workers} pinned workers but the "
            f"affinity set has only {len(cpus)} CPUs {cpus}; lower p or turn pinning off"
        )


def check_dask_cluster(dc: dict[str, Any]) -> None:
    """The dask-cluster backend needs a scheduler address or jobqueue settings."""
    from coresweep.backends.dask_cluster import ENV_SCHEDULER

    if not dc["address"] and not dc["jobqueue"] and not os.environ.get(ENV_SCHEDULER):
        raise ConfigError(
            "config key dask_cluster.address: the dask-cluster backend needs a scheduler "
            f"address (tcp://host:8786), dask_cluster.jobqueue settings, or ${ENV_SCHEDULER}"
        )
    if dc["address"] and dc["jobqueue"]:
        raise ConfigError("config key dask_cluster: give address or jobqueue, not both")


def configure_dask_cluster(dc: dict[str, Any]) -> None:
    """Hand the config's dask_cluster section to the backend class the registry builds."""
    from coresweep.backends import BACKENDS, select

    # the cluster backend (workers that may be on other machines) takes class-wide defaults
    cluster: Any = BACKENDS[select(isolation="cluster")]
    cluster.configure(
        address=dc["address"],
        security=dc["tls"],
        jobqueue=dc["jobqueue"],
        connect_timeout=dc["connect_timeout"],
        workers_timeout=dc["workers_timeout"],
    )


def kernel_size(kernel: Kernel, sizes: Mapping[str, int], key: str) -> int:
    """The task size for a kernel: sizes[name], else a user kernel's own `size`.

    0 for a user kernel with neither: its task factory then keeps its own default size.
    """
    if kernel.name in sizes:
        return int(sizes[kernel.name])
    spec = getattr(kernel, "spec", None)
    if spec is not None and (spec.size or spec.unit == "task"):
        return spec.size or 0
    raise ConfigError(
        f"config key {key}: no size for kernel {kernel.name!r}"
        + (f" (or set user_kernels.{kernel.name}.size)" if spec is not None else "")
    )


#: the Python version of the interpreter being planned for; None: this one (`planning_for`)
_TARGET: ContextVar[tuple[int, ...] | None] = ContextVar("coresweep_target", default=None)


@contextmanager
def planning_for(version: tuple[int, ...] | None) -> Iterator[None]:
    """Plan for an interpreter of this version (None: this interpreter): the backends
    `backend_names` keeps are those it can run."""
    token = _TARGET.set(version)
    try:
        yield
    finally:
        _TARGET.reset(token)


def backend_names(names: Sequence[str], key: str) -> list[str]:
    """The config's backends that the planned interpreter can run: an unknown name is a
    ConfigError naming key; a backend it cannot run (its `unavailable` reason, e.g.
    subinterpreters before 3.13) is left out, with a warning that says why."""
    from coresweep.backends import BACKENDS

    for n in names:
        if n not in BACKENDS:
            raise ConfigError(
                f"config key {key}: unknown backend {n!r}; allowed: {', '.join(sorted(BACKENDS))}"
            )
    out = []
    for n in names:
        reason = BACKENDS[n].unavailable(_TARGET.get())
        if reason is None:
            out.append(n)
        else:
            log.warning("config key %s: backend %s not measured: %s", key, n, reason)
    return out


def known_names(names: Sequence[str], allowed: Sequence[str], key: str) -> list[str]:
    """A config list whose every entry must be one of `allowed`; the error names key and values."""
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigError(f"config key {key}: unknown {unknown}; allowed: {', '.join(allowed)}")
    return list(names)


def check_memory(
    needed_bytes: float,
    what: str,
    key: str,
    node: Node,
    fraction: float = 0.5,
    advice: str = "choose a smaller size",
) -> None:
    """Refuse a point that would hold more than `fraction` (half) of the node's memory."""
    available = node.memory_bytes
    if needed_bytes > available * fraction:
        where = {"here": "available", "cluster": "of the compute node", "simulated": "of the node"}
        share = "half" if fraction == 0.5 else f"{fraction:.0%}"
        raise ConfigError(
            f"config key {key}: {what} needs {needed_bytes / 2**30:.1f} GiB, more than {share} of "
            f"the {available / 2**30:.1f} GiB {where.get(node.kind, 'available')}; {advice}"
        )


def check_tree(mem_mb: float, what: str, key: str, node: Node) -> None:
    """Refuse a point whose predicted process tree does not fit in the node's memory."""
    if mem_mb * 1e6 > node.memory_bytes:
        raise ConfigError(
            f"config key {key}: {what} needs ~{mem_mb / 1e3:.1f} GB (predicted process tree), "
            f"more than the {node.memory_bytes / 1e9:.1f} GB of the node; lower it, or set "
            "enabled: false"
        )


def cpu_spec(spec: int | str, key: str) -> int | str:
    """A CPU to pin to: "auto" stays (resolved where the job runs, a cluster node may
    differ); an explicit CPU must be in this process's affinity."""
    if spec != "auto":
        try:
            choose_cpu(spec)
        except ValueError as exc:
            raise ConfigError(f"config key {key}: {exc}; or use auto") from None
    return spec
