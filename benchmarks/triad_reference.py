"""An independent large-array STREAM triad, to check coresweep's in-job triad reference.

Writes a small OpenMP C triad to a temporary directory, compiles it with
`gcc -O3 -march=native -fopenmp`, and runs it with OMP_NUM_THREADS=1 and 2 (or --threads)
over three arrays each at least 4x the last-level cache (sysfs, the same reading coresweep
uses), initialised in parallel (first touch by the threads that sweep them). It prints the
best and median of N sweeps in GB/s (coresweep reports medians; STREAM's count: 24 bytes per element) and the machine.

Compare its one-thread figure with `triad_reference_gbs` of a quiet default run on the same
machine (results/tables/scaling.csv): the issue's target is agreement within 15%.
Run it on a quiet machine; it is a measurement, so never in the test suite.

    python benchmarks/triad_reference.py            # arrays from the cache rule, best of 10
    python benchmarks/triad_reference.py --elements 1000000 --repeats 2   # a smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = r"""
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    long n = atol(argv[1]);
    int repeats = atoi(argv[2]);
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)),
           *c = malloc(n * sizeof(double));
    if (!a || !b || !c) { fprintf(stderr, "out of memory\n"); return 2; }
    const double s = 3.0;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) { a[i] = 0.0; b[i] = (i % 4096) / 4096.0; c[i] = 1.0 + (5 * i % 4096) / 4096.0; }
    double best = 1e30, *times = malloc(repeats * sizeof(double));
    for (int r = 0; r < repeats; r++) {
        double t = omp_get_wtime();
        #pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) a[i] = b[i] + s * c[i];
        t = omp_get_wtime() - t;
        if (t < best) best = t;
        times[r] = t;
    }
    for (int i = 1; i < repeats; i++)  /* insertion sort: the median, as coresweep reports */
        for (int j = i; j > 0 && times[j - 1] > times[j]; j--) {
            double x = times[j]; times[j] = times[j - 1]; times[j - 1] = x;
        }
    double median = repeats % 2 ? times[repeats / 2]
                                : 0.5 * (times[repeats / 2 - 1] + times[repeats / 2]);
    double check = 0.0;
    for (long i = 0; i < n; i += 4099) check += a[i];
    printf("%d %.6f %.17g %.6f\n", omp_get_max_threads(), 24.0 * n / best / 1e9, check,
           24.0 * n / median / 1e9);
    free(a); free(b); free(c); free(times);
    return 0;
}
"""


def llc_bytes() -> tuple[int, str]:
    """The last-level cache all usable CPUs reach (sum of their LLC domains) and its text."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from coresweep.measure import cache

    llc = cache.here()
    if not llc.domains:
        return 0, "not in sysfs"
    total = llc.reach_bytes(len(llc.domains))
    return total, f"{total / 2**20:.0f} MiB in {len(llc.domains)} domain(s)"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def build(workdir: Path) -> Path:
    """Compile the C triad; the binary's path."""
    gcc = shutil.which("gcc")
    if gcc is None:
        sys.exit("triad_reference: gcc not found (apt-get install gcc)")
    src, exe = workdir / "triad.c", workdir / "triad"
    src.write_text(SOURCE)
    cmd = [gcc, "-O3", "-march=native", "-fopenmp", str(src), "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"triad_reference: {' '.join(cmd)} failed:\n{r.stderr}")
    return exe


def run(exe: Path, elements: int, repeats: int, threads: int) -> tuple[float, float]:
    """(best, median) GB/s of `repeats` sweeps on `threads` OpenMP threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_PROC_BIND": "spread"}
    r = subprocess.run(
        [str(exe), str(elements), str(repeats)], capture_output=True, text=True, env=env
    )
    if r.returncode:
        sys.exit(f"triad_reference: the triad failed: {r.stderr}")
    out = r.stdout.split()
    return float(out[1]), float(out[3])  # best, median


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elements", type=int, default=None, help="per array (default: 4x LLC)")
    ap.add_argument("--repeats", type=int, default=10, help="sweeps; the best is kept")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    llc, llc_text = llc_bytes()
    elements = args.elements or max(1, -(-4 * llc // 8))
    if args.elements is None and not llc:
        sys.exit("triad_reference: the LLC is not in sysfs; give --elements")
    below = 8 * elements < 4 * llc
    print(f"machine: {platform.node()}, {cpu_model()}, {os.cpu_count()} CPUs")
    print(f"last-level cache: {llc_text}")
    print(
        f"arrays: 3 x {elements} doubles ({8 * elements / 2**30:.2f} GiB each)"
        + ("  [BELOW 4x LLC: measures cache, not memory]" if below else "")
    )
    with tempfile.TemporaryDirectory(prefix="triad-ref-") as tmp:
        exe = build(Path(tmp))
        for t in args.threads:
            best, median = run(exe, elements, args.repeats, t)
            print(
                f"OMP_NUM_THREADS={t}: best of {args.repeats}: {best:.2f} GB/s, "
                f"median {median:.2f} GB/s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
