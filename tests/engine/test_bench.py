"""The bench command: its JSON form and its measurements' consistency (no timed assertions)."""

import json
import subprocess
import sys

import numpy as np

from helpers import engine, zoo
from helpers.engine import bench
from reference.turns import fake_turns


def test_bench_json_form():
    result = subprocess.run([sys.executable, "-m", "helpers", "bench", "tiny-branch", "--batch", "2", "1",
                             "--repeats", "2", "--warmup", "1", "--json", "--no-torch"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "tiny-branch" and "blas" in report["env"]
    assert [r["batch"] for r in report["results"]] == [1, 2]          # ascending: peak RSS is monotone
    for r in report["results"]:
        assert r["torch_ms"] is None and r["engine_ms"] > 0 and r["gemm_peak_gflops"] > 0
        assert r["peak_rss_mib"] >= r["baseline_rss_mib"] > 0
        assert {"name", "ms", "macs", "gflops", "peak_share"} <= set(r["layers"][0])
        assert sum(layer["macs"] for layer in r["layers"]) == 84928 * r["batch"]


def test_bench_text_and_errors():
    ok = subprocess.run([sys.executable, "-m", "helpers", "bench", "tiny-cnn", "--batch", "1", "--repeats", "1",
                         "--no-torch"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "GEMM peak" in ok.stdout and "conv1" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "helpers", "bench", "nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown model" in bad.stderr and "Traceback" not in bad.stderr


def test_measurement_helpers_are_positive_and_consistent():
    assert bench.copy_bandwidth(nbytes=2**22, repeats=2) > 0
    assert bench.gemm_peak(n=256, repeats=2) > 0
    model = zoo.get("tiny-cnn")
    params = engine.init_params(model, (3, 16, 16))
    assert bench.time_forward(model, params, np.zeros((1, 3, 16, 16), np.float32), repeats=2) > 0
    env = bench.environment()
    assert env["cpus"] >= 1 and isinstance(env["variables"], dict)


def test_peak_memory_units_and_platforms_without_resource(monkeypatch):
    # ru_maxrss is KiB on Linux and bytes on macOS (getrusage(2) man pages of each)
    assert bench.maxrss_mib(3 * 2**10, "linux") == bench.maxrss_mib(3 * 2**20, "darwin") == 3.0
    if sys.platform.startswith("linux"):
        import resource
        peak = bench._rss_mib()
        with open("/proc/self/status") as status:      # VmHWM: the same peak, in kB
            hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
        assert abs(peak - hwm / 2**10) <= 0.05 * peak + 1
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0
    monkeypatch.setitem(sys.modules, "resource", None)       # as on Windows: import fails
    assert bench._rss_mib() is None
    report = {"peak_rss_mib": None}
    assert "not measured" in bench._memory_text(report)



def test_side_by_side_ratio_is_the_median_of_its_rounds(torch, monkeypatch, capsys):
    """engine/torch is the median of the rounds' ratios to the round's faster torch module
    (here 1.8; the ratio of the overall medians would be 2.0), and --rounds reaches it."""
    from helpers.cli import main
    from helpers.engine import turns
    monkeypatch.setattr(turns, "in_turns", fake_turns({"engine": [1, 4, 9], "nchw": [1, 2, 10],
                                                       "channels_last": [5, 5, 5]}))
    assert main(["bench", "tiny-cnn", "--batch", "1", "--repeats", "1", "--warmup", "1", "--rounds", "3",
                 "--json"]) == 0
    (r,) = json.loads(capsys.readouterr().out)["results"]
    assert r["engine_over_torch_rounds"] == [1.0, 2.0, 1.8] and r["engine_over_torch"] == 1.8
    assert (r["engine_side_ms"], r["torch_ms"], r["torch_cl_ms"]) == (4000, 2000, 5000)
    assert r["max_rel_error"] < 1e-4
    assert "1.80 (median of 3 rounds, 1.00-2.00)" in bench.format_text({"env": bench.environment(),
                                                                         "model": "tiny-cnn", "results": [r]})
