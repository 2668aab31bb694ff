"""Usable cores: CPU affinity and cgroup quotas, not os.cpu_count()."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coresweep.config import ConfigError

CGROUP_ROOT = Path("/sys/fs/cgroup")


def affinity() -> list[int]:
    """CPUs this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def cgroup_cpu_max(root: Path = CGROUP_ROOT) -> str | None:
    """Raw `cpu.max` of the cgroup (v2), or None when unreadable."""
    try:
        return (root / "cpu.max").read_text().strip()
    except OSError:
        return None


def cgroup_quota_cores(root: Path = CGROUP_ROOT) -> float | None:
    """CPU quota in cores from cgroup v2 `cpu.max` ("max 100000" means none)."""
    raw = cgroup_cpu_max(root)
    if not raw:
        return None
    parts = raw.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        return int(parts[0]) / int(parts[1])
    except (ValueError, ZeroDivisionError):
        return None


def usable_cores(root: Path = CGROUP_ROOT) -> int:
    """Cores this process can really use: affinity capped by the cgroup quota."""
    n = len(affinity())
    quota = cgroup_quota_cores(root)
    if quota is not None:
        n = min(n, max(1, math.floor(quota)))
    return max(1, n)


@dataclass(frozen=True)
class Node:
    """The node a run plans for: this machine, a cluster's compute node, or a simulated size.

    `cores` is what the run was granted (the cap on p); `usable` is what the node has (an
    explicit p above it oversubscribes); `memory_bytes` is what a point may use at once.
    """

    cores: int
    usable: int
    memory_bytes: int
    kind: str = "here"  # "here", "cluster" (a compute node, not this host) or "simulated"

    def __post_init__(self) -> None:
        if self.cores < 1 or self.usable < 1:
            raise ValueError(f"a node needs at least 1 core, got {self.cores}")
        if self.memory_bytes <= 0:
            raise ValueError(f"a node needs memory, got {self.memory_bytes} bytes")

    @property
    def cap(self) -> int:
        """The largest p that "auto" plans: the granted cores the node really has."""
        return min(self.cores, self.usable)

    @classmethod
    def here(cls, granted: int | None = None) -> Node:
        """This machine: usable cores (affinity, cgroup quota), memory available now."""
        import psutil

        usable = usable_cores()
        return cls(granted or usable, usable, psutil.virtual_memory().available)

    @classmethod
    def sized(cls, cores: int, memory_gib: float, kind: str = "simulated") -> Node:
        """A node of a given size: a compute node seen from a login node, or a simulation."""
        if cores < 1:
            raise ValueError(f"--node-cores must be at least 1, got {cores}")
        if memory_gib <= 0:
            raise ValueError(f"--node-memory-gib must be positive, got {memory_gib}")
        return cls(cores, cores, int(memory_gib * 2**30), kind)


def sinfo_smallest_node_gib() -> float:
    """The smallest RealMemory of the cluster's nodes as `sinfo` reports it, in GiB.

    ConfigError naming cores.node_memory_gib when sinfo is missing or reports none.
    """
    hint = "set config key cores.node_memory_gib to the memory of a compute node"
    if shutil.which("sinfo") is None:
        raise ConfigError(f"cores.node_memory_gib is auto but sinfo is not installed: {hint}")
    out = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%m"], capture_output=True, text=True, timeout=30
    )
    mbs = [int(x) for x in out.stdout.split() if x.isdigit()]
    if out.returncode != 0 or not mbs:
        raise ConfigError(f"cores.node_memory_gib is auto but sinfo reported none: {hint}")
    return min(mbs) / 1024


def cluster_node(cores: dict[str, Any]) -> Node:
    """The compute node a cluster run plans for, from the validated `cores` section.

    cores.max is required (the submit host's cores say nothing about a compute node);
    cores.node_memory_gib "auto" asks SLURM for the smallest node's memory.
    """
    if cores["max"] == "auto":
        raise ConfigError(
            "config key cores.max: on a cluster executor set it to the cores of a compute "
            "node (e.g. --config 'cores={max: 32}'), so that every job plans the same points"
        )
    gib = cores["node_memory_gib"]
    if gib == "auto":
        gib = sinfo_smallest_node_gib()
    return Node.sized(int(cores["max"]), float(gib), kind="cluster")
