"""DGEMM on blocks through NumPy/BLAS, with BLAS held to one thread per worker.

Every worker caches the same pair of n x n blocks, so a task is one block product and its
timing holds no matrix generation. The backend, not BLAS, supplies the parallelism: the
experiment limits BLAS to one thread in every worker (coresweep.measure.inner_pools).

Why the working set is small: DGEMM stands for compute-bound work, and a compute-bound
kernel is meant to run from cache. A blocked product does 2n^3 flops on 3n^2 numbers (an
order of 768: 14 MB of blocks, 0.9 G flops), and BLAS tiles it further into L1/L2-sized
panels, so its rate is the core's floating-point rate, not the memory's. Unlike the triad
(kernels.stream), its blocks are NOT sized against the last-level cache: bigger blocks
would measure the same flop rate with more memory per worker.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from coresweep.kernels.base import Check, Kernel, Task


@functools.lru_cache(maxsize=4)
def blocks(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The two n x n input blocks for a point, identical in every worker."""
    rng = np.random.default_rng(seed)
    return rng.random((n, n)), rng.random((n, n))


def _block_seed(task: Task) -> int:
    # all tasks of a point share the blocks: seed them from the size, not the task
    return task.size * 1_000_003


def prepare(size: int, ntasks: int, seed: int) -> None:
    """Build the cached blocks in this worker."""
    blocks(size, size * 1_000_003)


def run(task: Task) -> float:
    a, b = blocks(task.size, _block_seed(task))
    return float((a @ b).sum())


def work(size: int) -> float:
    return 2.0 * size**3


def input_bytes(size: int) -> float:
    """The two cached blocks: one pair per process, shared by its threads."""
    return 2 * 8.0 * size * size


#: OpenBLAS's packing buffer, touched by a worker's first product (6-12 MiB measured
#: for orders 1024-2048 with one BLAS thread)
BLAS_BUFFER_BYTES = 10 * 2**20


def task_bytes(size: int) -> float:
    """The product a running task allocates (freed when it returns) and BLAS's buffer."""
    return 8.0 * size * size + BLAS_BUFFER_BYTES


#: nominal flop/s of one core with one BLAS thread (71 G measured on a 2.6 GHz Xeon with
#: AVX-512, 43-62 G on a shared EPYC VM); sizes tasks, never timed at plan time
RATE = 6e10


def check(tasks: Sequence[Task], results: Sequence[float]) -> Check:
    """sum(A @ B) equals (1ᵀA)(B1), computed without a matrix product."""
    a, b = blocks(tasks[0].size, _block_seed(tasks[0]))
    ref = float(a.sum(axis=0) @ b.sum(axis=1))
    worst = max(abs(r - ref) / abs(ref) for r in results)
    same = len({float(r) for r in results}) == 1
    return Check(worst < 1e-9 and same, f"max rel err {worst:.2e}, identical blocks:{same}")


DGEMM = Kernel(
    name="dgemm",
    kind="blas",
    unit="flop",
    run=run,
    work=work,
    check=check,
    prepare=prepare,
    description="block DGEMM through NumPy/BLAS, one BLAS thread per worker",
    rate=RATE,
    input_bytes=input_bytes,
    task_bytes=task_bytes,
)
