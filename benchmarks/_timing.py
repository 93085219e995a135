"""Shared timing helpers for the benchmark scripts: interleaved repeats, median wall time, peak RSS."""

import resource
import statistics
import time
from collections.abc import Callable


def interleaved_times(
    functions: dict[str, Callable[[], object]], repeats: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Seconds of each call of each function, run round-robin so machine noise hits all of them alike."""
    for _ in range(warmup):
        for fn in functions.values():
            fn()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def interleaved_medians(functions: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of each function, run round-robin (see `interleaved_times`)."""
    times = interleaved_times(functions, repeats, warmup)
    return {name: statistics.median(values) for name, values in times.items()}


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of `numerator[i] / denominator[i]` (times from the same round of `interleaved_times`).

    Load that drifts over seconds (another process, frequency scaling) moves both calls of a round alike, so the
    per-round ratio is steadier than the ratio of two medians taken over the whole run.
    """
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_memory_in_subprocess(script: str, argv: list[str]) -> float:
    """Run `python script *argv` in a fresh process and return the float it prints last (a peak memory in MiB).

    A fresh interpreter per measurement keeps peaks from mixing; forking instead deadlocks torch's thread pool.
    """
    import subprocess
    import sys

    output = subprocess.run([sys.executable, script, *argv], check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])
