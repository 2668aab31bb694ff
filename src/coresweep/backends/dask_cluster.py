"""A Dask cluster beyond this process: an existing scheduler, or one started on SLURM.

Two ways to get workers:

* connect to a running scheduler (``dask scheduler`` + ``dask worker`` on any hosts), its
  address given as ``address=`` or in the environment variable ``CORESWEEP_DASK_SCHEDULER``
  (``tcp://host:8786`` or ``tls://host:8786``);
* ``jobqueue={...}``: start a ``dask_jobqueue.SLURMCluster`` with these keyword arguments
  (``queue``, ``account``, ``cores``, ``memory``, ``walltime``, ...), submit SLURM jobs for
  ``workers`` workers and connect to it. Defaults ``cores=1, processes=1, memory="1GB"``:
  one single-threaded worker per job, so ``scale(jobs=workers)``; with ``processes=k`` per
  job, ``ceil(workers / k)`` jobs.

Where the address comes from: the constructor's ``address``/``jobqueue``; else the class-wide
defaults set with ``DaskClusterBackend.configure(...)`` (the config); else
``CORESWEEP_DASK_SCHEDULER``.

``security={"ca_file": ..., "cert": ..., "key": ...}`` turns on TLS with a client
certificate (``require_encryption=True``): the same CA must have signed the scheduler's and
workers' certificates.

The run uses exactly ``workers`` Dask workers: when the scheduler has more, tasks are pinned
to ``workers`` of them (sorted by address), so p in the results is the p that ran; the
per-worker init runs on exactly the workers used. Every wait is bounded and fails with a
message naming the address — also a map whose workers died, where Dask itself would wait
forever.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

from coresweep.backends.base import Backend, Descriptor, Init
from coresweep.backends.dask_local import concurrent_future
from coresweep.config_model import DaskCluster as ClusterSection
from coresweep.units import fmt_seconds

ENV_SCHEDULER = "CORESWEEP_DASK_SCHEDULER"
SECURITY_KEYS = ("ca_file", "cert", "key")


class DaskClusterBackend(Backend):
    """Workers of an external Dask scheduler (or of a SLURMCluster this backend starts)."""

    name = "dask-cluster"
    descriptor = Descriptor(
        isolation="cluster",
        shares_memory=False,
        arguments="pickled",
        pickler="cloudpickle",
        dispatch="scheduler",
        start_method="nanny",
        supervision="worker-restarted",
        gil_bound=False,
    )

    #: seconds to reach the scheduler before giving up
    connect_timeout: ClassVar[float] = float(ClusterSection().connect_timeout)
    #: seconds for all `workers` workers to join (SLURM jobs may queue first), and how long
    #: map waits with no worker at all before it fails
    workers_timeout: ClassVar[float] = float(ClusterSection().workers_timeout)
    #: seconds between checks that the workers are still there while map waits
    poll_interval: ClassVar[float] = 1.0

    # defaults for instances built as make_backend("dask-cluster", p): set from the config
    # with DaskClusterBackend.configure(...); constructor arguments win over them, and the
    # environment variable is used only when neither gives an address or a jobqueue
    _default_address: ClassVar[str | None] = None
    _default_security: ClassVar[Mapping[str, str] | Any | None] = None
    _default_jobqueue: ClassVar[Mapping[str, Any] | None] = None

    @classmethod
    def configure(
        cls,
        address: str | None = None,
        security: Mapping[str, str] | Any | None = None,
        jobqueue: Mapping[str, Any] | None = None,
        connect_timeout: float | None = None,
        workers_timeout: float | None = None,
    ) -> None:
        """Class-wide defaults (from the config) for instances made by the registry."""
        cls._default_address = address
        cls._default_security = security
        cls._default_jobqueue = dict(jobqueue) if jobqueue else None
        if connect_timeout is not None:
            cls.connect_timeout = float(connect_timeout)
        if workers_timeout is not None:
            cls.workers_timeout = float(workers_timeout)

    def __init__(
        self,
        workers: int,
        address: str | None = None,
        security: Mapping[str, str] | Any | None = None,
        jobqueue: Mapping[str, Any] | None = None,
        *,
        connect_timeout: float | None = None,
        workers_timeout: float | None = None,
    ) -> None:
        super().__init__(workers)
        if address and jobqueue:
            raise ValueError(
                f"{self.name}: give a scheduler address or jobqueue settings, not both"
            )
        if not address and not jobqueue:
            address = self._default_address
            jobqueue = self._default_jobqueue
            if not address and not jobqueue:
                address = os.environ.get(ENV_SCHEDULER) or None
        self.address = address
        self.jobqueue = dict(jobqueue) if jobqueue else None
        self.security_spec = security if security is not None else self._default_security
        if connect_timeout is not None:
            self.connect_timeout = float(connect_timeout)
        if workers_timeout is not None:
            self.workers_timeout = float(workers_timeout)
        self._client: Any = None
        self._cluster: Any = None
        self._worker_addrs: list[str] = []
        self._worker_info: dict[str, Any] = {}
        self._init: Init | None = None
        self._initialized: set[str] = set()
        self._timings: dict[str, float] = {}

    # -- security --------------------------------------------------------------------------

    def _security(self, all_roles: bool = False) -> Any:
        """distributed.Security from the {ca_file, cert, key} dict (None when not set).

        all_roles also fills the scheduler and worker roles with the same certificate, for a
        SLURMCluster this backend starts itself.
        """
        spec = self.security_spec
        if spec is None:
            return None
        from distributed import Security

        if isinstance(spec, Security):
            return spec
        if not isinstance(spec, Mapping):
            raise TypeError(
                f"{self.name}: security must be a dict with keys {', '.join(SECURITY_KEYS)}"
                f" or a distributed.Security, got {type(spec).__name__}"
            )
        missing = [k for k in SECURITY_KEYS if not spec.get(k)]
        unknown = sorted(set(spec) - set(SECURITY_KEYS))
        if missing or unknown:
            raise ValueError(
                f"{self.name}: security needs exactly the keys {', '.join(SECURITY_KEYS)}"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        paths = {k: str(Path(spec[k]).expanduser()) for k in SECURITY_KEYS}
        for k, p in paths.items():
            if not Path(p).is_file():
                raise FileNotFoundError(f"{self.name}: security {k} file not found: {p}")
        kwargs = {
            "tls_ca_file": paths["ca_file"],
            "tls_client_cert": paths["cert"],
            "tls_client_key": paths["key"],
        }
        if all_roles:
            for role in ("scheduler", "worker"):
                kwargs[f"tls_{role}_cert"] = paths["cert"]
                kwargs[f"tls_{role}_key"] = paths["key"]
        return Security(require_encryption=True, **kwargs)

    # -- start -----------------------------------------------------------------------------

    def _start_jobqueue(self, security: Any) -> str:
        if shutil.which("sbatch") is None:
            raise RuntimeError(
                f"{self.name}: jobqueue mode submits SLURM jobs, but 'sbatch' is not on PATH "
                "(run it on a SLURM login node, or start tests/slurm/start-cluster.sh)"
            )
        from dask_jobqueue import SLURMCluster

        kwargs: dict[str, Any] = {
            "cores": 1,
            "processes": 1,
            "memory": "1GB",
            "job_name": "coresweep-dask",
            **(self.jobqueue or {}),
        }
        # no dashboard unless asked for; its HTTP server (health checks) on a free port
        # instead of 8787, which another scheduler on a login node may well hold
        kwargs["scheduler_options"] = {
            "dashboard": False,
            "dashboard_address": ":0",
            **dict(kwargs.get("scheduler_options") or {}),
        }
        if security is not None:
            kwargs.setdefault("security", security)
        self._cluster = SLURMCluster(**kwargs)
        per_job = self._cluster._dummy_job.worker_processes
        jobs = math.ceil(self.workers / per_job)
        self._cluster.scale(jobs=jobs)
        return self._cluster.scheduler_address

    def start(self, init: Init | None = None) -> None:
        from distributed import Client

        if self._client is not None:
            raise RuntimeError(f"{self.name} backend already started")
        t0 = time.perf_counter()
        self._worker_addrs, self._worker_info, self._initialized = [], {}, set()
        try:
            if self.jobqueue:
                address = self._start_jobqueue(self._security(all_roles=True))
                security = self._cluster.security
            else:
                if not self.address:
                    raise RuntimeError(
                        f"{self.name}: no scheduler address: set {ENV_SCHEDULER}=tcp://host:port"
                        " or give an address or jobqueue settings in the config"
                    )
                address = self.address
                security = self._security()
                if address.startswith("tls://") and security is None:
                    raise RuntimeError(
                        f"{self.name}: scheduler at {address} speaks TLS: give security "
                        f"{{{', '.join(SECURITY_KEYS)}}}"
                    )
                if security is not None and not address.startswith("tls://"):
                    raise RuntimeError(
                        f"{self.name}: security (TLS) is set, but the scheduler address "
                        f"{address} is not tls://"
                    )
            self.address = address
            t = self.connect_timeout
            try:
                self._client = Client(
                    address,
                    timeout=f"{t}s",
                    security=security,
                    set_as_default=False,
                )
            except (OSError, TimeoutError) as exc:
                raise RuntimeError(
                    f"{self.name}: cannot reach scheduler at {address} within {fmt_seconds(t)}"
                    f" ({type(exc).__name__}: {exc})"
                ) from exc
            except Exception as exc:  # something answered, but not a Dask scheduler we trust
                raise RuntimeError(
                    f"{self.name}: no usable Dask scheduler at {address}"
                    f" ({type(exc).__name__}: {str(exc)[:200]})"
                ) from exc
            self._timings["connect_s"] = time.perf_counter() - t0
            self._wait_for_workers()
            self._timings["workers_s"] = time.perf_counter() - t0
            self._init = init
            self._select_workers()
        except BaseException:
            self.shutdown()
            raise
        self._timings["start_s"] = time.perf_counter() - t0

    def _wait_for_workers(self) -> None:
        t = self.workers_timeout
        try:
            self._client.wait_for_workers(self.workers, timeout=t)
        except TimeoutError as exc:
            have = len(self._client.scheduler_info(n_workers=-1)["workers"])
            raise RuntimeError(
                f"{self.name}: only {have} of {self.workers} workers joined the scheduler at "
                f"{self.address} within {fmt_seconds(t)}{self._jobs_hint()}"
            ) from exc

    def _select_workers(self) -> bool:
        """The `workers` workers for the next map (init run on new ones); True: pin tasks.

        Tasks are pinned only while the scheduler has more workers than asked for: a pinned
        task cannot follow a worker that its nanny restarted (new address), an unpinned one
        can. Workers that left are replaced by others, so p stays what was asked.
        """
        info = self._client.scheduler_info(n_workers=-1)["workers"]
        keep = [a for a in self._worker_addrs if a in info]
        others = sorted(a for a in info if a not in keep)
        self._worker_addrs = keep + others[: max(0, self.workers - len(keep))]
        self._worker_info = {
            a: {"host": info[a].get("host"), "nthreads": info[a].get("nthreads")}
            for a in self._worker_addrs
        }
        fresh = [a for a in self._worker_addrs if a not in self._initialized]
        if fresh and self._init is not None:
            self._client.run(self._init, workers=fresh)
        self._initialized = set(self._worker_addrs)
        return len(info) > self.workers

    def _jobs_hint(self) -> str:
        """SLURM states of this backend's jobs, for a timeout message."""
        if self._cluster is None:
            return ""
        ids = [j.job_id for j in getattr(self._cluster, "workers", {}).values() if j.job_id]
        if not ids or shutil.which("squeue") is None:
            return ""
        try:
            out = subprocess.run(
                ["squeue", "-h", "-j", ",".join(ids), "-o", "%i %T %R"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
        return f"; SLURM jobs: {'; '.join(out.splitlines())}" if out else ""

    # -- work ------------------------------------------------------------------------------

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if self._client is None:
            raise RuntimeError(f"{self.name} backend not started")
        pinned = self._select_workers()  # one round trip to the scheduler (~1 ms)
        where: dict[str, Any] = {}
        if pinned:
            where = {"workers": self._worker_addrs, "allow_other_workers": False}
        futures = self._client.map(fn, list(items), pure=False, **where)
        self._wait_or_fail(futures, pinned)
        return self._client.gather(futures)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """One task on the selected workers; unlike map, nothing here notices that they all
        left: wait on the future with a timeout."""
        if self._client is None:
            raise RuntimeError(f"{self.name} backend not started")
        where: dict[str, Any] = {}
        if self._select_workers():
            where = {"workers": self._worker_addrs, "allow_other_workers": False}
        return concurrent_future(self._client.submit(fn, *args, pure=False, **where))

    def _wait_or_fail(self, futures: list[Any], pinned: bool) -> None:
        """Wait for futures; fail instead of hanging when the workers that could run them left.

        Dask waits forever for a worker to run pending tasks. Here: pinned tasks fail as soon
        as none of their workers is left; unpinned ones after workers_timeout without any
        worker (a nanny restart or a new SLURM job within that time is fine).
        """
        from distributed import wait

        selected = set(self._worker_addrs)
        alone_since: float | None = None
        while True:
            try:
                with self._client.as_current():
                    wait(futures, timeout=self.poll_interval)
                return
            except TimeoutError:
                pass
            live = set(self._client.scheduler_info(n_workers=-1)["workers"])
            usable = live & selected if pinned else live
            if usable:
                alone_since = None
                continue
            alone_since = alone_since or time.monotonic()
            if pinned:
                why = f"the workers {sorted(selected)} left the scheduler at {self.address}"
            elif time.monotonic() - alone_since > self.workers_timeout:
                why = (
                    f"no worker connected to the scheduler at {self.address} for "
                    f"{fmt_seconds(self.workers_timeout)}"
                )
            else:
                continue
            pending = sum(not f.done() for f in futures)
            self._client.cancel(futures)
            raise RuntimeError(
                f"{self.name}: {why} with {pending} tasks pending (workers died? see their logs)"
            )

    def worker_ids(self) -> list[int]:
        # the workers may live on other hosts, where a local pid means nothing: placing them
        # on cores is the cluster's job (SLURM task/affinity or cgroups), not this process's
        return []

    def shutdown(self) -> None:
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        if client is not None:
            try:
                client.close(timeout=self.connect_timeout)
            except Exception as exc:  # a dead scheduler must not mask the real error
                logging.getLogger(__name__).warning("%s: closing client: %s", self.name, exc)
        if cluster is not None:
            try:
                cluster.close(timeout=30)  # cancels the SLURM jobs
            except Exception as exc:
                logging.getLogger(__name__).warning("%s: closing SLURMCluster: %s", self.name, exc)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            **super().describe(),
            "address": self.address,
            "mode": "jobqueue" if self.jobqueue else "connect",
            "tls": self.security_spec is not None,
            "dask_workers": self._worker_info,
            **self._timings,
        }
        if self.jobqueue:
            d["jobqueue"] = {k: v for k, v in self.jobqueue.items() if k != "security"}
        return d
