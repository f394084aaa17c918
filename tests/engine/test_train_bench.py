"""``bench MODEL --train``: the report's counts and the command line (no timing asserted)."""

import json

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
