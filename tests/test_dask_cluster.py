"""DaskClusterBackend against real schedulers and workers (subprocesses on 127.0.0.1).

Every scheduler and worker runs in its own session and is killed by process group when its
fixture ends, also when a test fails. The SLURM test needs the one-node cluster from
tests/slurm/start-cluster.sh and is skipped (with the reason) without it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from coresweep.backends.dask_cluster import ENV_SCHEDULER, DaskClusterBackend
from coresweep.kernels import make_tasks
from coresweep.kernels.montecarlo import run_python

# the workers import this module for the helpers below (Dask pickles functions by reference)
HERE = Path(__file__).resolve().parent
WORKER_PYTHONPATH = os.pathsep.join(
    [str(HERE), str(HERE.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
)
DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]
TASKS = make_tasks(2000, 4, 1)


# -- helpers run inside the workers ----------------------------------------------------------


def _mark_init() -> None:
    os.environ["CORESWEEP_TEST_INIT"] = "done"


def _init_mark(_: object) -> str | None:
    return os.environ.get("CORESWEEP_TEST_INIT")


def _worker_address(_: object) -> str:
    from distributed import get_worker

    return get_worker().address


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


# -- process management ----------------------------------------------------------------------


class Procs:
    """Subprocesses in their own sessions; kill() ends each whole process group."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[subprocess.Popen] = []

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        env = {**os.environ, "PYTHONPATH": WORKER_PYTHONPATH}
        p = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        log.close()
        self.procs.append(p)
        return p

    def kill(self) -> None:
        for p in self.procs:
            _signal_group(p, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_group(p, signal.SIGKILL)  # also any child left behind in the group
            p.wait(timeout=10)
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(
            f"--- {f.name}\n{f.read_text(errors='replace')[-2000:]}"
            for f in sorted(self.logdir.glob("*.log"))
        )


def _signal_group(p: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, sig)


def _start_cluster(
    procs: Procs,
    workdir: Path,
    nworkers: int,
    pki: dict[str, str] | None = None,
    nanny: bool = True,
) -> str:
    """A scheduler and nworkers single-threaded workers on 127.0.0.1, all connected.

    pki (ca_file, cert, key) switches everything to TLS. Returns the scheduler address.
    """
    from distributed import Client

    sched_file = workdir / "scheduler.json"
    extra = []
    if pki:
        extra = ["--tls-ca-file", pki["ca_file"], "--tls-cert", pki["cert"]]
        extra += ["--tls-key", pki["key"]]
    proto = ["--protocol", "tls"] if pki else []
    procs.spawn(
        "scheduler",
        [*DASK, "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
        + ["--scheduler-file", str(sched_file), *proto, *extra],
    )
    deadline = time.monotonic() + 30
    while not sched_file.exists():
        if time.monotonic() > deadline or procs.procs[0].poll() is not None:
            raise RuntimeError(f"scheduler did not start\n{procs.logs()}")
        time.sleep(0.1)
    address = json.loads(sched_file.read_text())["address"]
    for i in range(nworkers):
        procs.spawn(
            f"worker{i}",
            [*WORKER, "--scheduler-file", str(sched_file), "--nthreads", "1"]
            + ["--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "30"]
            + ["--local-directory", str(workdir / f"w{i}"), *proto, *extra]
            + ([] if nanny else ["--no-nanny"]),
        )
    security = DaskClusterBackend(1, address=address, security=pki)._security()
    with Client(address, security=security, timeout="30s", set_as_default=False) as client:
        try:
            client.wait_for_workers(nworkers, timeout=60)
        except TimeoutError:
            raise RuntimeError(f"workers did not connect\n{procs.logs()}") from None
    return address


@pytest.fixture(scope="module", autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    """After the module (all cluster fixtures torn down): no child process of ours is alive."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    new = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    _, alive = psutil.wait_procs(new, timeout=5)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    assert not alive, f"left behind: {[p.pid for p in alive]}"


@pytest.fixture(scope="module")
def plain_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Scheduler + 2 workers over TCP, shared by the tests of this module."""
    workdir = tmp_path_factory.mktemp("dask-plain")
    procs = Procs(workdir)
    try:
        yield _start_cluster(procs, workdir, 2)
    finally:
        procs.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- plain TCP -------------------------------------------------------------------------------


def test_map_is_bit_identical_to_serial(plain_cluster: str) -> None:
    serial = [run_python(t) for t in TASKS]
    with DaskClusterBackend(2, address=plain_cluster) as b:
        b.start(init=_mark_init)
        assert b.map(run_python, TASKS) == serial
        assert b.map(_init_mark, range(4)) == ["done"] * 4
        d = b.describe()
    assert d["backend"] == "dask-cluster" and d["mode"] == "connect"
    assert d["address"] == plain_cluster
    assert len(d["dask_workers"]) == 2
    assert all(w["nthreads"] == 1 for w in d["dask_workers"].values())
    assert b._client is None  # shut down by the with block
    b.shutdown()  # twice is fine


def test_uses_exactly_the_requested_workers(plain_cluster: str) -> None:
    """The scheduler has 2 workers; a p=1 run must run every task on one of them."""
    with DaskClusterBackend(1, address=plain_cluster) as b:
        b.start()
        used = set(b.map(_worker_address, range(8)))
        assert used == set(b.describe()["dask_workers"])
        assert len(used) == 1


def test_address_from_environment(plain_cluster: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SCHEDULER, plain_cluster)
    with DaskClusterBackend(2) as b:
        assert b.address == plain_cluster
        b.start()
        assert b.map(run_python, TASKS[:2]) == [run_python(t) for t in TASKS[:2]]


def test_too_few_workers_times_out_clearly(plain_cluster: str) -> None:
    b = DaskClusterBackend(3, address=plain_cluster, workers_timeout=2)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"only 2 of 3 workers joined .* within 2 s"):
        b.start()
    assert time.monotonic() - t0 < 10
    assert b._client is None


def test_no_address_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)
    with pytest.raises(RuntimeError, match=ENV_SCHEDULER):
        DaskClusterBackend(1).start()
    with pytest.raises(ValueError, match="not both"):
        DaskClusterBackend(1, address="tcp://127.0.0.1:1", jobqueue={"queue": "debug"})


def test_unreachable_scheduler_fails_fast() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    b = DaskClusterBackend(2, address=address)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError) as err:
        b.start()
    elapsed = time.monotonic() - t0
    assert f"dask-cluster: cannot reach scheduler at {address} within 10 s" in str(err.value)
    assert elapsed < 20, elapsed


def test_map_fails_instead_of_hanging_when_workers_die(tmp_path: Path) -> None:
    procs = Procs(tmp_path)
    try:
        # no nanny: each worker is the leader of its own process group, and nothing restarts it
        address = _start_cluster(procs, tmp_path, 2, nanny=False)
        with DaskClusterBackend(1, address=address, workers_timeout=30) as b:
            b.start()  # 2 workers for p=1: tasks are pinned to one of them
            (pinned,) = b.describe()["dask_workers"]
            pid = b._client.run(os.getpid, workers=[pinned])[pinned]
            threading.Timer(1.0, os.killpg, (pid, signal.SIGKILL)).start()
            t0 = time.monotonic()
            with pytest.raises(RuntimeError, match="left the scheduler .* 2 tasks pending"):
                b.map(_sleep, [20, 20])
            assert time.monotonic() - t0 < 10
        with DaskClusterBackend(1, address=address, workers_timeout=2) as b:
            b.start()  # the one worker left: not pinned, a restarted worker could take over
            (last,) = b.describe()["dask_workers"]
            pid = b._client.run(os.getpid, workers=[last])[last]
            threading.Timer(1.0, os.killpg, (pid, signal.SIGKILL)).start()
            t0 = time.monotonic()
            with pytest.raises(RuntimeError, match="no worker connected .* for 2 s"):
                b.map(_sleep, [20])
            assert time.monotonic() - t0 < 10
    finally:
        procs.kill()


# -- TLS -------------------------------------------------------------------------------------


def _write_pki(d: Path, ca_name: str) -> dict[str, str]:
    """A CA and one certificate for 127.0.0.1/localhost signed by it, as PEM files in d."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name(ca_name))
        .issuer_name(name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = {"ca_file": d / "ca.pem", "cert": d / "cert.pem", "key": d / "key.pem"}
    files["ca_file"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files["key"].chmod(0o600)
    return {k: str(v) for k, v in files.items()}


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict, Path]]:
    workdir = tmp_path_factory.mktemp("dask-tls")
    pki = _write_pki(workdir / "pki", "coresweep test CA")
    procs = Procs(workdir)
    try:
        address = _start_cluster(procs, workdir, 1, pki=pki)
        assert address.startswith("tls://127.0.0.1:"), address
        yield address, pki, workdir
    finally:
        procs.kill()


def test_tls_with_certificate_works(tls_cluster: tuple[str, dict, Path]) -> None:
    address, pki, _ = tls_cluster
    with DaskClusterBackend(1, address=address, security=pki) as b:
        b.start()
        assert b.map(run_python, TASKS) == [run_python(t) for t in TASKS]
        assert b.describe()["tls"] is True


def test_tls_without_security_is_refused(tls_cluster: tuple[str, dict, Path]) -> None:
    address, _, _ = tls_cluster
    with pytest.raises(RuntimeError, match="speaks TLS"):
        DaskClusterBackend(1, address=address).start()
    # the same port over plain TCP does not get through either
    plain = address.replace("tls://", "tcp://")
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=f"cannot reach scheduler at {plain} within 3 s"):
        DaskClusterBackend(1, address=plain, connect_timeout=3).start()
    assert time.monotonic() - t0 < 15


def test_tls_certificate_from_another_ca_is_refused(tls_cluster: tuple[str, dict, Path]) -> None:
    address, _, workdir = tls_cluster
    rogue = _write_pki(workdir / "rogue", "some other CA")
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=f"cannot reach scheduler at {address} within 3 s"):
        DaskClusterBackend(1, address=address, security=rogue, connect_timeout=3).start()
    assert time.monotonic() - t0 < 15


def test_security_with_plain_tcp_is_refused(tls_cluster: tuple[str, dict, Path]) -> None:
    _, pki, _ = tls_cluster
    with pytest.raises(RuntimeError, match="is not tls://"):
        DaskClusterBackend(1, address="tcp://127.0.0.1:1", security=pki).start()


def test_security_dict_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing: key"):
        DaskClusterBackend(1, address="tls://x:1", security={"ca_file": "a", "cert": "b"}).start()
    with pytest.raises(FileNotFoundError, match="ca_file"):
        DaskClusterBackend(
            1,
            address="tls://x:1",
            security={"ca_file": str(tmp_path / "no"), "cert": "b", "key": "c"},
        ).start()


# -- SLURM (dask-jobqueue) -------------------------------------------------------------------


def _slurm_skip_reason() -> str | None:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM client tools (sinfo, sbatch) not on PATH"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return "no SLURM controller answered sinfo within 5 s; see tests/slurm/start-cluster.sh"
    except (OSError, subprocess.SubprocessError) as exc:
        return f"sinfo failed: {exc}"
    states = out.stdout.split()
    if out.returncode != 0 or not any(s in ("idle", "mixed") for s in states):
        return (
            f"no idle SLURM node (sinfo: {out.stdout.strip() or out.stderr.strip()!r}); "
            "start one with tests/slurm/start-cluster.sh"
        )
    return None


def _squeue_names() -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%j"], capture_output=True, text=True, timeout=10
    ).stdout
    return out.split()


@pytest.mark.slurm
def test_jobqueue_on_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = _slurm_skip_reason()
    if reason:
        print(f"skipping: {reason}")
        pytest.skip(reason)
    monkeypatch.setenv("PYTHONPATH", WORKER_PYTHONPATH)  # sbatch passes the environment on
    job_name = f"cs-dask-{os.getpid()}"
    jobqueue = {
        "queue": "debug",
        "cores": 1,
        "memory": "1GB",
        "walltime": "00:10:00",
        "job_name": job_name,
        "log_directory": str(tmp_path / "logs"),
        "local_directory": str(tmp_path / "work"),
        # the workers run on this node: the scheduler need not listen beyond loopback
        "scheduler_options": {"host": "127.0.0.1"},
    }
    b = DaskClusterBackend(1, jobqueue=jobqueue, workers_timeout=60)
    try:
        b.start(init=_mark_init)
        assert b.map(run_python, TASKS) == [run_python(t) for t in TASKS]
        assert b.map(_init_mark, range(2)) == ["done"] * 2
        d = b.describe()
        assert d["mode"] == "jobqueue" and len(d["dask_workers"]) == 1
    finally:
        b.shutdown()
        deadline = time.monotonic() + 20
        while job_name in _squeue_names() and time.monotonic() < deadline:
            time.sleep(0.5)
        left = job_name in _squeue_names()
        if left:
            subprocess.run(["scancel", "--name", job_name], timeout=10)
    assert not left, "SLURMCluster.close() left its job in the queue"


def test_jobqueue_without_sbatch_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    b = DaskClusterBackend(1, jobqueue={"queue": "debug"})
    with pytest.raises(RuntimeError, match="'sbatch' is not on PATH"):
        b.start()
