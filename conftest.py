"""Run ``solutions/`` strictly under nbval (stored outputs must reproduce).

The student copies in ``notebooks/`` run top to bottom with blank answers in
``tests/integration/test_leaks.py``, which fails on any error and judges everything
they show; ``pytest notebooks/`` still runs them laxly under nbval on request."""

import os

os.environ.setdefault("PYTHONHASHSEED", "0")
# One BLAS thread per process: the suite runs two xdist workers (and their notebook kernels)
# on two cores, and OpenBLAS's idle threads spin for ~0.1 s after every call, taking the
# other worker's core: measured 114 s for `make test` with two BLAS threads, 91 s with one.
# Tests of the engine's pipelines raise the count themselves (tests/reference/pipelines.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def pytest_collectstart(collector):
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb" and path.parent.name == "notebooks":
        collector.compare_outputs = False


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/*.json from the current helpers")


try:  # reproducible property tests: the same examples on every machine
    from hypothesis import settings

    settings.register_profile("workbook", derandomize=True, deadline=None, print_blob=True)
    settings.load_profile("workbook")
except ImportError:  # pragma: no cover
    pass


collect_ignore = ["tests/data", ".venv", "build", "helpers/release/student"]  # student/: hand-out files
"""Fixture notebooks are inputs to tests, not notebooks to run."""
