"""Every flag a table row can carry: one enum, each member with its disturbance kind.

A flag is a measured disturbance or a fact about a row. Producers (stats, experiments,
measure) raise it through this enum; readers (verdicts, report) read it back through
`parse` and the member, never by matching text. In a table a row's flags are one `;`-joined
text column (`join`); a flag that carries its measured value writes it into its text
(`Flag.CV.at(0.10)` is "cv>10%"), and `parse` gives the value back as a field.

The kind says what a flag can do to a row's estimate, which is how the decision engine
weighs it (analysis.verdicts.engine):
- "noise": spread the row's own interval already carries (CV, short samples, a slow
  first run that was a discarded warm-up);
- "capacity", "drift": measured by the runner (cores short, the reference kernel drifted);
  weighed by their measured size;
- "oversubscription": more workers than cores; only slows;
- "slow": a fact that can only slow the row (requests that arrived late);
- "fact": anything else (a failed check, mixed hosts, a pin that did not hold): either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

NOISE, CAPACITY, DRIFT, OVERSUBSCRIPTION, SLOW, FACT = (
    "noise",
    "capacity",
    "drift",
    "oversubscription",
    "slow",
    "fact",
)
FLAG_KINDS = (NOISE, CAPACITY, DRIFT, OVERSUBSCRIPTION, SLOW, FACT)


class Flag(Enum):
    """A flag: (its text, or its text pattern with `{}` where its value goes; its kind)."""

    CV = ("cv>{:.0%}", NOISE)  # value: the coefficient-of-variation bound it exceeded
    SPREAD = ("min/max>50%-from-mean", NOISE)
    SHORT_SAMPLES = ("samples<1ms", NOISE)
    SLOW_FIRST_RUN = ("slow-first-run", NOISE)
    SPARSE_SAMPLING = ("sampling<{:.0f}Hz", NOISE)  # value: the sampling rate it fell below
    MEMORY_UNSTEADY = ("memory-unsteady", NOISE)
    FEW_LEVELS = ("fit<3-levels", NOISE)
    LOW_CAPACITY = ("low-capacity", CAPACITY)
    REFERENCE_DRIFT = ("reference-drift", DRIFT)
    OVERSUBSCRIBED = ("oversubscribed", OVERSUBSCRIPTION)
    INNER_OVERSUBSCRIBED = ("inner-oversubscribed", OVERSUBSCRIPTION)
    ARRIVALS_LATE = ("arrivals-late", SLOW)
    CHECK_FAILED = ("check-failed", FACT)
    DIFFERS_FROM_SERIAL = ("differs-from-serial", FACT)
    UNFINISHED_REQUESTS = ("unfinished-requests", FACT)
    BACKLOG_CARRIED_OVER = ("backlog-carried-over", FACT)
    P99_FEW_REQUESTS = ("p99-from-<{:d}-requests", FACT)  # value: the requests it needs
    P99_FEW_SAMPLES = ("p99-from<{:d}-samples", FACT)  # value: the samples it needs
    PROBE_FELL_BEHIND = ("probe-fell-behind", FACT)
    NOT_ALL_HOLD_INPUT = ("not-all-workers-hold-input", FACT)
    NOT_ALL_BUSY = ("not-all-workers-busy", FACT)
    WORKERS_MISSING = ("workers-missing", FACT)
    IN_CACHE = ("in-cache", FACT)
    NOT_PINNED = ("not-pinned", FACT)
    PARTNER_NOT_PINNED = ("partner-not-pinned", FACT)
    SYNCHRONIZED_BUT_LOST = ("synchronized-but-lost-updates", FACT)
    UNCLEAN_SHUTDOWN = ("unclean-shutdown", FACT)
    ORPHANS = ("orphans", FACT)  # a pool's process outlived its shutdown
    CELL_ERROR = ("cell-error", FACT)
    GIL_REENABLED = ("gil-reenabled", FACT)
    MIXED_HOSTS = ("mixed-hosts", FACT)

    def __init__(self, pattern: str, kind: str) -> None:
        self.pattern = pattern
        self.kind = kind
        head, _, tail = pattern.partition("{")
        self.valued = bool(_)
        self._re = re.compile(
            re.escape(head)
            + (
                r"(?P<v>[-+0-9.]+)%?" + re.escape(tail.partition("}")[2]) if self.valued else ""
            )  # fmt: skip
        )

    def at(self, value: float | int | None = None) -> str:
        """The flag's text in a table, with its measured value where it carries one."""
        if self.valued != (value is not None):
            need = "a value" if self.valued else "no value"
            raise ValueError(f"flag {self.name} takes {need} (got {value!r})")
        return self.pattern.format(value) if self.valued else self.pattern


@dataclass(frozen=True)
class Raised:
    """One flag of a row, with its measured value (None for a flag that carries none)."""

    flag: Flag
    value: float | None = None

    @property
    def text(self) -> str:
        """As the table writes it."""
        if self.value is None:
            return self.flag.at()
        return self.flag.at(int(self.value) if ":d}" in self.flag.pattern else self.value)


def _read(text: str) -> Raised | None:
    for flag in Flag:
        m = flag._re.fullmatch(text)
        if m:
            if not flag.valued:
                return Raised(flag)
            value = float(m.group("v"))
            return Raised(flag, value / 100 if flag.pattern.endswith("%}") else value)
    return None


def parse(cell: object) -> list[Raised]:
    """The flags of a table cell (missing in an old table: none); ValueError naming a text
    that is no flag of this coresweep."""
    if not isinstance(cell, str):
        return []
    out = []
    for text in cell.split(";"):
        if text:
            raised = _read(text)
            if raised is None:
                known = ", ".join(f.pattern for f in Flag)
                raise ValueError(f"unknown flag {text!r} in a table row; known: {known}")
            out.append(raised)
    return out


def has(cell: object, flag: Flag) -> bool:
    """Whether a row's flags include `flag`."""
    return any(r.flag is flag for r in parse(cell))


def join(texts: Iterable[str]) -> str:
    """A row's flags as its table cell: the texts `Flag.at` gave, `;`-joined, in order,
    each once."""
    return ";".join(dict.fromkeys(t for t in texts if t))
