"""Timing helpers: interleaved repetitions, medians, and readable units."""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Per-call times (ns) of one contender, and its overhead over a baseline's paired calls."""

    samples: list[int]
    overhead_samples: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def overhead(self) -> float:
        """Median of the paired differences (call - baseline call of the same round)."""
        return statistics.median(self.overhead_samples)


def time_interleaved(
    contenders: dict[str, Callable[[], Any]],
    baseline: str,
    budget_seconds: float,
    max_rounds: int = 300,
    min_rounds: int = 5,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> dict[str, Timing]:
    """Call every contender once per round, in a shuffled order, so that the load of the machine
    (shared with others) falls on all of them alike; overheads are paired with the baseline's
    call. Two warm-up rounds; then as many rounds as fit in ``budget_seconds`` (within bounds);
    young garbage is collected between rounds, not during calls. ``clock``: wall time by default;
    ``time.thread_time_ns`` counts only this thread's CPU time, which the other processes of a
    busy machine do not inflate."""
    round_ns = 0
    for _ in range(2):
        started = time.perf_counter_ns()
        gc.collect(0)
        for call in contenders.values():
            call()
        round_ns = time.perf_counter_ns() - started
    rounds = max(min_rounds, min(max_rounds, int(budget_seconds * 1e9 / max(round_ns, 1))))
    samples: dict[str, list[int]] = {name: [] for name in contenders}
    order = list(contenders)
    shuffler = random.Random(0)
    collecting = gc.isenabled()
    try:
        for _ in range(rounds):
            shuffler.shuffle(order)  # no contender always runs after another's garbage
            gc.collect(0)
            gc.disable()  # as timeit does: a collection lands on whoever triggers it
            for name in order:
                started = clock()
                contenders[name]()
                samples[name].append(clock() - started)
            gc.enable()
    finally:
        if collecting:
            gc.enable()
    base = samples[baseline]
    return {
        name: Timing(
            times, [time_ns - base_ns for time_ns, base_ns in zip(times, base, strict=True)]
        )
        for name, times in samples.items()
    }


def best_of(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The minimum wall time (s) of ``repeats`` calls, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
    return best, result


def time_repeated(call: Callable[[], Any], repetitions: int, warmup: int = 1) -> float:
    """Median wall time of ``call`` in seconds, after ``warmup`` discarded calls."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repetitions):
        started = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - started)
    return statistics.median(times) / 1e9


def duration(nanoseconds: float) -> str:
    """A duration in µs, ms or s, three significant digits or so."""
    magnitude = abs(nanoseconds)
    if magnitude < 1e6:
        return f"{nanoseconds / 1e3:.0f} µs"
    if magnitude < 1e9:
        return f"{nanoseconds / 1e6:.2f} ms" if magnitude < 1e8 else f"{nanoseconds / 1e6:.0f} ms"
    return f"{nanoseconds / 1e9:.2f} s"


def signed(nanoseconds: float) -> str:
    return ("+" if nanoseconds >= 0 else "-") + duration(abs(nanoseconds))


def own_time_per_call(
    call: Callable[[], Any], owner: tuple[str, str], inner: set[str], calls: int, batches: int = 5
) -> float:
    """Time per call (ns) spent in ``owner`` (file suffix, function name) outside the functions
    named in ``inner``, by cProfile attribution (median of ``batches``): an upper bound, as profiling costs too."""
    import cProfile
    import pstats

    def one_batch() -> float:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(calls):
            call()
        profile.disable()
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        total = sum(
            entry[3]
            for (file, _, function), entry in stats.items()
            if file.endswith(owner[0]) and function == owner[1]
        )
        nested = sum(entry[3] for (_, _, function), entry in stats.items() if function in inner)
        return (total - nested) / calls * 1e9

    return statistics.median(one_batch() for _ in range(batches))


@dataclass
class FunctionTimer:
    """Wall time (ns) spent in the functions that ``timed_functions`` wrapped, since the last reset."""

    spent: int = 0


@contextmanager
def timed_functions(module: ModuleType, names: tuple[str, ...]) -> Iterator[FunctionTimer]:
    """Within the block, the named functions of ``module`` are wrappers adding their wall time
    to the timer: code that looks them up there (a model being loaded) keeps the wrappers."""
    timer = FunctionTimer()
    originals = {name: getattr(module, name) for name in names}

    def timed(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return function(*args, **kwargs)
            finally:
                timer.spent += time.perf_counter_ns() - started

        return wrapper

    for name, function in originals.items():
        setattr(module, name, timed(function))
    try:
        yield timer
    finally:
        for name, function in originals.items():
            setattr(module, name, function)


def own_time_without_profiler(call: Callable[[], Any], timer: FunctionTimer, calls: int) -> float:
    """Median per-call wall time (ns) of ``call`` minus the time spent in the timed functions it
    called. No profiler: cProfile's cost per Python call weighs on code made of many small calls
    (a pandas copy is about 80) several times more than the code itself."""
    samples = []
    collecting = gc.isenabled()
    gc.collect(0)
    gc.disable()
    try:
        for _ in range(calls):
            timer.spent = 0
            started = time.perf_counter_ns()
            call()
            samples.append(time.perf_counter_ns() - started - timer.spent)
    finally:
        if collecting:
            gc.enable()
    return statistics.median(samples)
