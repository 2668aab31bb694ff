"""The last-level cache, read from sysfs: how much cache the cores of a point can reach.

Linux lists each CPU's caches under /sys/devices/system/cpu/cpu*/cache/index*/ with their
`level`, `type`, `size` (e.g. "32768K") and `shared_cpu_list` (the CPUs sharing that cache).
A CPU's last-level cache is its cache of the highest level (data or unified); CPUs with the
same `shared_cpu_list` share one LLC domain. p cores can reach at most the LLC of p distinct
domains (the OS may spread them over as many as there are), so the LLC of a point is the
sum of the p largest domains of the usable CPUs; at p = 1 it is one core's view, its own
domain. STREAM's rule sizes a memory-bound kernel's arrays from this (each array at least
4x the cache the cores reach).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYSFS_CPU = Path("/sys/devices/system/cpu")
_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30}


@dataclass(frozen=True)
class CacheDomain:
    """One last-level cache and the CPUs sharing it (of those this process may use)."""

    level: int
    size_bytes: int
    cpus: tuple[int, ...]


@dataclass(frozen=True)
class LastLevelCache:
    """The LLC domains of a node, largest first; `source` says where they come from."""

    domains: tuple[CacheDomain, ...]
    source: str = "sysfs"

    def reach_bytes(self, p: int) -> int:
        """Bytes of LLC that p cores can reach: the p largest distinct domains."""
        sizes = sorted((d.size_bytes for d in self.domains), reverse=True)
        return sum(sizes[: max(1, p)])

    @property
    def total_bytes(self) -> int:
        return sum(d.size_bytes for d in self.domains)

    def tiled(self, cores: int) -> LastLevelCache:
        """The same domains repeated to cover a node of `cores` cores (a simulated or
        cluster node assumed to be built like this machine)."""
        if not self.domains:
            return self
        per = [max(1, len(d.cpus)) for d in self.domains]
        out: list[CacheDomain] = []
        first = 0
        while first < cores:
            d = self.domains[len(out) % len(self.domains)]
            n = min(per[len(out) % len(per)], cores - first)
            out.append(CacheDomain(d.level, d.size_bytes, tuple(range(first, first + n))))
            first += n
        return LastLevelCache(tuple(out), f"{self.source}, tiled to {cores} cores")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "domains": [
                {"level": d.level, "size_bytes": d.size_bytes, "cpus": list(d.cpus)}
                for d in self.domains
            ],
            "total_bytes": self.total_bytes,
            "per_core_bytes": self.reach_bytes(1) if self.domains else None,
        }


def uniform(domain_cores: int, domain_bytes: int, source: str = "given") -> LastLevelCache:
    """One LLC domain of `domain_cores` cores (tile it to a node's size with `tiled`)."""
    return LastLevelCache((CacheDomain(3, domain_bytes, tuple(range(domain_cores))),), source)


def parse_size(text: str) -> int:
    """A sysfs cache size ("32768K", "1M", "512") in bytes."""
    text = text.strip()
    if text and text[-1].upper() in _UNITS:
        return int(text[:-1]) * _UNITS[text[-1].upper()]
    return int(text)


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """A kernel CPU list ("0-3,8,10-11") as CPU numbers."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return tuple(out)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cpu_llc(cpu_dir: Path) -> CacheDomain | None:
    """The highest-level data or unified cache of one CPU (None when sysfs has none)."""
    best: CacheDomain | None = None
    for index in sorted(cpu_dir.glob("cache/index*")):
        level, size, shared = (_read(index / f) for f in ("level", "size", "shared_cpu_list"))
        if (_read(index / "type") or "Unified") == "Instruction" or not (level and size):
            continue
        try:
            d = CacheDomain(int(level), parse_size(size), parse_cpu_list(shared or ""))
        except ValueError:
            continue
        if best is None or d.level > best.level:
            best = d
    return best


def read_llc(cpus: Iterable[int], root: Path = SYSFS_CPU) -> LastLevelCache:
    """The distinct LLC domains of these CPUs, each with the CPUs of `cpus` sharing it.

    Empty when sysfs says nothing (some containers and VMs): callers must not guess."""
    wanted = set(cpus)
    seen: dict[tuple[int, ...], CacheDomain] = {}
    for cpu in sorted(wanted):
        d = _cpu_llc(root / f"cpu{cpu}")
        if d is None:
            continue
        key = d.cpus or (cpu,)
        if key not in seen:
            mine = tuple(c for c in key if c in wanted) or (cpu,)
            seen[key] = CacheDomain(d.level, d.size_bytes, mine)
    domains = sorted(seen.values(), key=lambda d: (-d.size_bytes, d.cpus))
    return LastLevelCache(tuple(domains))


def here() -> LastLevelCache:
    """The LLC domains of the CPUs this process may use."""
    from coresweep.measure.cores import affinity

    return read_llc(affinity())


def for_node(kind: str, cores: int) -> LastLevelCache:
    """The LLC a planned node has: this machine's for a run here, else a login node's best
    guess about a compute node: this machine's domains tiled to the node's cores. When one
    domain spans every CPU here (a small VM, a laptop), how it grows with cores is unknown:
    the node is assumed to share it. The measuring job checks the rule against its own
    sysfs (provenance) and flags rows whose arrays fell below it."""
    from coresweep.measure.cores import affinity

    llc = here()
    if kind == "here" or not llc.domains:
        return llc
    if len(llc.domains) == 1 and set(llc.domains[0].cpus) == set(affinity()):
        d = llc.domains[0]
        return LastLevelCache((CacheDomain(d.level, d.size_bytes, tuple(range(cores))),),
                              f"{llc.source}, one domain assumed for {cores} cores")  # fmt: skip
    return llc.tiled(cores)


def from_dict(data: dict[str, Any] | None) -> LastLevelCache:
    """A LastLevelCache from its `to_dict` form (a record's provenance); empty if none."""
    if not data:
        return LastLevelCache((), "unknown")
    domains = tuple(
        CacheDomain(int(d["level"]), int(d["size_bytes"]), tuple(d["cpus"]))
        for d in data.get("domains", [])
    )
    return LastLevelCache(domains, data.get("source", "sysfs"))


def elements_for(nbytes: float, itemsize: int = 8) -> int:
    """Array elements of `itemsize` bytes needed to hold nbytes (rounded up)."""
    return int(math.ceil(nbytes / itemsize))
