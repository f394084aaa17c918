"""A stand-in for :func:`helpers.engine.turns.in_turns` with chosen times, to test what the
benchmarks compute from them."""

from helpers.engine import turns


def fake_turns(per_round):
    """An ``in_turns`` whose timed calls take, round by round, the seconds ``per_round``
    gives each contestant (every call of a turn alike); each contestant is called once, for
    its output."""
    def in_turns(runs, repeats, **_):
        assert repeats == len(next(iter(per_round.values()))) * turns.TURN      # whole rounds
        outputs = {name: call() for name, call in runs.items()}
        return {name: [t for t in per_round[name] for _ in range(turns.TURN)] for name in runs}, outputs
    return in_turns

