"""Running the engine as several pipelines or as one serial pipeline (a test utility)."""

import contextlib

from helpers.engine import threads


def pipeline_mode(serial):
    """The BLAS switch as found, or (``serial``) as if the BLAS could not be switched."""
    from unittest import mock
    return mock.patch.object(threads, "_FUNCTIONS", (None, None)) if serial else contextlib.nullcontext()
