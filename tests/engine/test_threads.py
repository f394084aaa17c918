"""The BLAS thread switch, the per-core pipelines and their segments."""


from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import engine
from helpers.engine import threads
from helpers.layers import Conv2d, GlobalAvgPool, Linear, MaxPool2d, ReLU
from helpers.model import Sequential
from reference.pipelines import pipeline_mode


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


def test_small_passes_run_on_the_calling_thread(monkeypatch):
    """Below ``PIPELINES_FROM_MACS`` per convolution or dense layer, a forward pass hands no
    work to another thread; above it, every layer runs as pipelines; both give one result,
    and a new threshold holds from the next pass of the same model on."""
    model, shape = Sequential(Conv2d(8, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(8, 1), GlobalAvgPool(),
                              Linear(3)), (3, 12, 12)
    params = engine.init_params(model, shape, 0)
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    handed = []

    class Recording(ThreadPoolExecutor):
        def submit(self, *args):
            handed.append(args)
            return super().submit(*args)
    results = {}
    with pipeline_mode(serial=False), Recording(1) as pool:
        monkeypatch.setattr(threads, "_POOL", (1, pool))
        for threshold in (1, 10**12, 1):
            handed.clear()
            with mock.patch.object(threads, "PIPELINES_FROM_MACS", threshold):
                results[threshold] = engine.forward(model, params, x)
            assert (len(handed) == 0) == (threshold > 1)
    np.testing.assert_allclose(results[10**12], results[1], rtol=1e-5, atol=1e-6)


def test_stated_macs_per_layer_are_the_zoos():
    """The mean MACs per convolution and dense layer that the README and
    ``PIPELINES_FROM_MACS``'s measurements quote, against the zoo's per-layer counts."""
    import re
    from pathlib import Path

    from helpers.summaries import summary

    def mean_millions(model, batch):
        macs = [row.macs for row in summary(model, batch=batch).rows if row.kind in ("Conv2d", "Linear")]
        return sum(macs) / len(macs) / 1e6
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    said = re.search(r"under `helpers.engine.threads.PIPELINES_FROM_MACS`, (\d+) M MACs per layer on\s+"
                     r"average; ResNet-50 at batch 1, with (\d+) M, is below it", readme)
    assert said, "the README's sentence on PIPELINES_FROM_MACS moved: update this test"
    assert int(said[1]) * 1e6 == threads.PIPELINES_FROM_MACS and int(said[2]) == round(mean_millions("resnet50", 1))
    source = Path(threads.__file__).read_text()
    doc = " ".join(source.split("PIPELINES_FROM_MACS = ")[1].split('"""')[1].split())      # its docstring
    for model, batch, text in [("resnet50", 1, "ResNet-50 at batch 1 (76 M"), ("resnet50", 2, "batch 2 (151 M)"),
                               ("alexnet", 2, "AlexNet at batch 2 (284 M)"), ("vgg16", 1, "VGG-16 at batch 1 (967 M)"),
                               ("alexnet", 1, "AlexNet at batch 1 (142 M")]:
        assert text in doc and f"({round(mean_millions(model, batch))} M" in text
    # ResNet-50 at batch 1 below the threshold; AlexNet at batch 1 above, with its larger batches
    assert mean_millions("resnet50", 1) < threads.PIPELINES_FROM_MACS / 1e6 < mean_millions("alexnet", 1)
