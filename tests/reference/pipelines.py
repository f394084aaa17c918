"""Running the engine as several pipelines or as one serial pipeline (a test utility)."""

import contextlib
from unittest import mock

from helpers.engine import threads


@contextlib.contextmanager
def pipeline_mode(serial):
    """As if the BLAS could not be switched (``serial``: one pipeline), or with at least two
    BLAS threads and no pass treated as small (``threads.PIPELINES_FROM_MACS``), so that the
    work really is split between two pipelines even when the suite runs with
    ``OPENBLAS_NUM_THREADS=1`` (see ``conftest.py``) and on models far smaller than
    the threshold."""
    if serial:
        with mock.patch.object(threads, "_FUNCTIONS", (None, None)):
            yield
        return
    get, put = threads._functions()
    if put is None:                                   # no switchable BLAS here: nothing to split
        import pytest
        pytest.skip("the BLAS's thread count cannot be switched here, so there are no two pipelines to test")
    before = int(get())
    put(max(2, before))
    try:
        assert threads.threads() >= 2
        with mock.patch.object(threads, "PIPELINES_FROM_MACS", 0):
            yield
    finally:
        put(before)
