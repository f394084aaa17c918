"""Timing contestants side by side: in turns, each in its own steady state.

Used by ``python -m helpers bench`` (the engine against torch in both memory formats)
and ``bench MODEL --train``. Both take turns rather than run back to back, so that a
change in the machine's load hits all contestants alike, and pause before each turn, so
that none runs beside another's still-spinning threads.
"""

from __future__ import annotations

import statistics
import time

__all__ = ["SETTLE_S", "TURN", "after_pause", "in_turns", "round_ratios"]


SETTLE_S = 0.25
"""Pause (seconds) before each contestant's turn in :func:`in_turns`. After a call,
OpenBLAS's idle threads keep polling for work for ``1 << THREAD_TIMEOUT`` cycles before
they sleep (``THREAD_TIMEOUT`` 28 by default in OpenBLAS's ``driver/others/blas_server.c``:
0.1 s at the 2.6 GHz ``/proc/cpuinfo`` reports here), and torch's OpenMP threads wait
actively for a while too (not measured separately); a contestant that starts while the
other's threads still spin can share a core with them. Measure it with
``python -m helpers bench resnet20 --train --pauses 0 0.05 0.25`` (:func:`after_pause`):
torch's training step right after the engine's, after each pause, and its next steps. On
the 2-core VM this was written on (batch 64, 2026-11-22), torch's first step took 117 ms
right after the engine's, 56 ms after a 0.05 s pause and 27 ms after 0.25 s; its later
steps 23-27 ms in all three."""

TURN = 5
"""Timed calls per turn in :func:`in_turns`, after one untimed call that wakes the
contestant's threads, so that each is timed in its own steady state: the first call after
a pause is the slowest (in the run quoted for :data:`SETTLE_S`, torch's first step after
0.25 s 1.11 times its seventh, the second to seventh within 23-27 ms)."""


def in_turns(runs, repeats, turn=TURN, settle=SETTLE_S):
    """Time every callable of ``runs`` (a dict) ``repeats`` times, in turns: a pause of
    ``settle`` seconds, one untimed call, then up to ``turn`` timed calls, for each
    contestant in order, round after round, so that a change in the machine's load hits
    all alike while no contestant runs beside another's spinning threads.

    Returns ``({name: [seconds, ...]}, {name: its last result})``.

    >>> calls = []
    >>> times, last = in_turns({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
    ...                        repeats=3, turn=2, settle=0)
    >>> "".join(calls), {k: len(v) for k, v in times.items()}
    ('aaabbbaabb', {'a': 3, 'b': 3})
    """
    times, results = {name: [] for name in runs}, {}
    while any(len(t) < repeats for t in times.values()):
        for name, call in runs.items():
            time.sleep(settle)
            call()
            for _ in range(min(turn, repeats - len(times[name]))):
                start = time.perf_counter()
                results[name] = call()
                times[name].append(time.perf_counter() - start)
    return times, results


def round_ratios(times, numerator, denominators, turn=TURN):
    """Per round of :func:`in_turns` (``times`` its first result, ``turn`` as given to it):
    the median of ``numerator``'s timed calls in that round over the fastest median of the
    ``denominators``' calls in the same round. A ratio taken within a round compares
    contestants under one machine load; the spread of the rounds' ratios shows how far a
    single figure can be trusted on a shared machine.

    >>> round_ratios({"a": [2, 2, 4, 4], "b": [1, 1, 5, 5], "c": [4, 4, 2, 2]}, "a", ["b", "c"], turn=2)
    [2.0, 2.0]
    """
    def medians(name):
        t = times[name]
        return [statistics.median(t[i:i + turn]) for i in range(0, len(t), turn)]
    fastest = [min(per_round) for per_round in zip(*(medians(name) for name in denominators), strict=True)]
    return [mine / best for mine, best in zip(medians(numerator), fastest, strict=True)]


def after_pause(first, second, pause, calls=TURN + 2, repeats=5):
    """Median times (seconds) of ``calls`` consecutive calls of ``second`` made ``pause``
    seconds after a call of ``first``, one median per position (over ``repeats`` rounds):
    how long a contestant is slowed by the other's still-spinning threads, and how many
    calls it takes to reach its steady state. The default, ``TURN + 2`` calls, covers what
    a turn of :func:`in_turns` runs (one untimed call and ``TURN`` timed ones) and one call
    beyond it, to show whether the turn's last call was already steady.

    >>> calls = []
    >>> times = after_pause(lambda: calls.append("a"), lambda: calls.append("b"), 0.0, calls=3, repeats=2)
    >>> "".join(calls), len(times)
    ('abbbabbb', 3)
    """
    per_call = [[] for _ in range(calls)]
    for _ in range(repeats):
        first()
        time.sleep(pause)
        for times in per_call:
            start = time.perf_counter()
            second()
            times.append(time.perf_counter() - start)
    return [statistics.median(t) for t in per_call]
