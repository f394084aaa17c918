"""``bench MODEL --train``: the report's counts and the command line (no timing asserted)."""

import json

import pytest

from helpers.cli import main
from helpers.engine import train_bench
from helpers.summaries import summary
from reference.turns import fake_turns


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



def test_training_ratios_are_medians_of_rounds(torch, monkeypatch):
    """engine/torch (default threads and one thread) is the median of the rounds' ratios."""
    from helpers.engine import turns
    monkeypatch.setattr(turns, "in_turns", fake_turns({"engine": [1, 4, 9], "torch": [1, 2, 10],
                                                       "torch_1thread": [1, 8, 3]}))
    report = train_bench.run("resnet20-half", batches=(4,), repeats=1, warmup=1, rounds=3)
    (r,) = report["results"]
    assert r["engine_over_torch_rounds"] == [1.0, 2.0, 0.9] and r["engine_over_torch"] == 1.0
    # medians' ratios would be 2.0 and 1.33
    assert r["engine_over_torch_1thread_rounds"] == [1.0, 0.5, 3.0] and r["engine_over_torch_1thread"] == 1.0
    text = train_bench.format_text(report)
    assert "engine/torch 1.00, median of 3 rounds, 0.90-2.00" in text and "median of 3 rounds, 0.50-3.00" in text
