"""``bench MODEL --train``: the report's counts and the command line (no timing asserted)."""

import json

import pytest

from helpers.cli import main
from helpers.engine import train_bench
from helpers.summaries import summary


def test_report_counts_a_training_step():
    report = train_bench.run("resnet20-half", batches=(8,), repeats=1, warmup=1, use_torch=False)
    (r,) = report["results"]
    fwd = summary("resnet20-half", batch=8)
    assert r["forward_macs"] == fwd.totals["macs"]
    assert r["backward_macs"] == 2 * fwd.totals["macs"] - fwd.row("conv1").macs
    assert r["torch_ms"] is None and r["engine_ms"] > 0
    assert "resnet20-half training step" in train_bench.format_text(report)


def test_command_line_train_flag(capsys):
    assert main(["bench", "resnet20-half", "--train", "--batch", "4", "--repeats", "1", "--warmup", "1",
                 "--no-torch", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["batch"] for r in report["results"]] == [4]


def test_pauses_report_each_pause_and_refuse_bad_use(capsys):
    """``--pauses`` needs ``--train`` and seconds >= 0; its report has one row per pause with
    one time per step after it (torch is needed; skipped without it)."""
    assert main(["bench", "resnet20-half", "--pauses", "0.1"]) == 2
    assert main(["bench", "resnet20-half", "--train", "--pauses", "-1"]) == 2
    assert main(["bench", "resnet20-half", "--train", "--no-torch", "--pauses", "0"]) == 2
    assert main(["bench", "resnet20-half", "--train", "--pauses", "nan"]) == 2
    assert main(["bench", "resnet20-half", "--train", "--pauses", "inf"]) == 2
    assert capsys.readouterr().err.count("goes with --train") == 5
    pytest.importorskip("torch")
    report = train_bench.pauses("resnet20-half", 4, [0.0, 0.01], repeats=1)
    assert list(report) == [0.0, 0.01] and all(len(ms) == 7 and min(ms) > 0 for ms in report.values())
    text = train_bench.format_pauses("resnet20-half", 4, report)
    assert text.count("pause ") == 2 and "first / last" in text
    assert main(["bench", "resnet20-half", "--train", "--batch", "4", "--pauses", "0", "--repeats", "1", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)["torch_step_ms_after_pause"]) == ["0.0"]


def test_training_ratio_is_the_median_of_its_rounds(torch):
    report = train_bench.run("resnet20-half", batches=(4,), repeats=1, warmup=1, rounds=2)
    (r,) = report["results"]
    assert len(r["engine_over_torch_rounds"]) == 2
    assert abs(r["engine_over_torch"] - sum(r["engine_over_torch_rounds"]) / 2) <= 1e-3     # both rounded
    assert "median of 2 rounds" in train_bench.format_text(report)
