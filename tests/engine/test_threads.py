"""The BLAS thread switch, the per-core pipelines and their segments."""


import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.engine import threads


@given(st.integers(0, 40), st.integers(0, 40), st.integers(1, 7))
def test_segments_cover_the_range_within_images(start, length, per_image):
    pieces = list(threads.segments(start, start + length, per_image))
    rows = [image * per_image + r for image, r0, r1, _ in pieces for r in range(r0, r1)]
    assert rows == list(range(start, start + length))
    assert all(0 <= r0 < r1 <= per_image for _, r0, r1, _ in pieces)
    assert [offset for *_, offset in pieces] == [rows.index(i * per_image + r0) for i, r0, _, _ in pieces]


def test_blas_switch_is_restored_and_optional(monkeypatch):
    before = threads.threads()
    with threads.single_threaded() as cores:
        assert cores == before
        assert threads.threads() == (1 if cores else None)
    assert threads.threads() == before
    monkeypatch.setattr(threads, "_FUNCTIONS", (None, None))
    with threads.single_threaded() as cores:
        assert cores is None and threads.threads() is None
    seen = []
    threads.pipelines(5, lambda thread, i, j: seen.append((thread, i, j)))
    assert seen == [(0, 0, 5)]


@pytest.mark.parametrize("cores", [1, 2, 3, 5])
def test_one_pipeline_per_blas_thread(monkeypatch, cores):
    """As many pipelines as the BLAS had threads, covering the range once, each seeing a
    single-threaded BLAS; the thread count is restored afterwards."""
    state = {"threads": cores}
    monkeypatch.setattr(threads, "_FUNCTIONS", (lambda: state["threads"], lambda n: state.update(threads=n)))
    seen = []
    threads.pipelines(11, lambda part, i, j: seen.append((part, i, j, state["threads"])))
    assert sorted(p for p, *_ in seen) == list(range(cores))
    assert sorted(r for _, i, j, _ in seen for r in range(i, j)) == list(range(11))
    assert {t for *_, t in seen} == {1} and state["threads"] == cores


@pytest.mark.parametrize("threshold, on_calling_thread", [(10**12, True), (1, False)])
def test_small_passes_run_on_the_calling_thread(monkeypatch, threshold, on_calling_thread):
    """Below ``PIPELINES_FROM_MACS`` per convolution or dense layer, a forward pass hands no
    work to another thread; above it, every layer runs as pipelines. Both give one result."""
    import importlib
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from helpers import engine
    from helpers.layers import Conv2d, GlobalAvgPool, Linear, MaxPool2d, ReLU
    from helpers.model import Sequential
    from reference.pipelines import pipeline_mode
    forward = importlib.import_module("helpers.engine.forward")
    model, shape = Sequential(Conv2d(8, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(8, 1), GlobalAvgPool(),
                              Linear(3)), (3, 12, 12)
    params = engine.init_params(model, shape, 0)
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    with pipeline_mode(serial=False):
        reference = engine.forward(model, params, x)
        monkeypatch.setattr(forward, "PIPELINES_FROM_MACS", threshold)
        forward._SMALL.clear()
        handed = []

        class Recording(ThreadPoolExecutor):
            def submit(self, *args):
                handed.append(args)
                return super().submit(*args)
        with Recording(1) as pool:
            monkeypatch.setattr(threads, "_POOL", (1, pool))
            got = engine.forward(model, params, x)
    forward._SMALL.clear()
    assert (len(handed) == 0) == on_calling_thread
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-6)
