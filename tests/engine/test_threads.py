"""The BLAS thread switch, the per-core pipelines and their segments."""


import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.engine import kernels, threads


@given(st.integers(0, 40), st.integers(0, 40), st.integers(1, 7))
def test_segments_cover_the_range_within_images(start, length, per_image):
    pieces = list(kernels.segments(start, start + length, per_image))
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
    kernels.pipelines(5, lambda thread, i, j: seen.append((thread, i, j)))
    assert seen == [(0, 0, 5)]


@pytest.mark.parametrize("cores", [1, 2, 3, 5])
def test_one_pipeline_per_blas_thread(monkeypatch, cores):
    """As many pipelines as the BLAS had threads, covering the range once, each seeing a
    single-threaded BLAS; the thread count is restored afterwards."""
    state = {"threads": cores}
    monkeypatch.setattr(threads, "_FUNCTIONS", (lambda: state["threads"], lambda n: state.update(threads=n)))
    seen = []
    kernels.pipelines(11, lambda part, i, j: seen.append((part, i, j, state["threads"])))
    assert sorted(p for p, *_ in seen) == list(range(cores))
    assert sorted(r for _, i, j, _ in seen for r in range(i, j)) == list(range(11))
    assert {t for *_, t in seen} == {1} and state["threads"] == cores
