"""The command line: stable output forms, one-line errors, no heavy imports."""

import json
import subprocess
import sys

import pytest

from helpers.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True,
                          text=True, timeout=60)


def test_summary_alexnet_table(capsys):
    assert main(["summary", "alexnet"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "105,415,200" in out
    assert out.strip().splitlines()[-1].split()[1:] == ["62,378,344", "1,135,256,096", "1,939,560",
                                                        "249,513,376", "7,758,240"]


def test_summary_json_form(capsys):
    assert main(["summary", "alexnet", "--batch", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "alexnet" and data["input"] == [3, 227, 227] and data["batch"] == 2
    assert data["layers"][0] == {"name": "conv1", "kind": "Conv2d", "output": [96, 55, 55],
                                 "params": 34944, "macs": 2 * 105415200, "activations": 2 * 290400}
    for key in ("params", "macs", "activations"):
        assert data["totals"][key] == sum(layer[key] for layer in data["layers"])


def test_summary_custom_input(capsys):
    assert main(["summary", "resnet50", "--input", "3x320x320", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["layers"][-3]["output"] == [2048, 10, 10]


def test_rf_json_resnet50_v1(capsys):
    assert main(["rf", "resnet50-v1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["final"] == {"size": 483, "stride": 32, "padding": 241}
    assert data["layers"][0] == {"name": "conv1", "kind": "Conv2d", "size": 7, "stride": 2, "padding": 3}


def test_rf_table(capsys):
    assert main(["rf", "alexnet"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].split() == ["final", "195", "32", "64"]


def test_models_lists_the_zoo(capsys):
    assert main(["models"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert {"alexnet", "alexnet-grouped", "alexnet-torchvision", "vgg16", "vgg19", "resnet50",
            "resnet50-v1", "resnet50-half", "inception-naive", "inception-reduced"} <= set(names)


@pytest.mark.parametrize("args, message", [
    (["summary", "lenet"], "unknown model 'lenet'"),
    (["summary", "alexnet", "--input", "3x224"], "malformed --input '3x224'"),
    (["summary", "alexnet", "--input", "3x10x10"], "kernel 11 is larger than the padded input"),
    (["summary", "alexnet", "--batch", "0"], "expected a positive integer"),
    (["rf", "nope"], "unknown model 'nope'"),
    (["summary"], "required"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_and_nonzero(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sub", ["models", "summary", "rf"])
def test_help_on_every_subcommand(sub):
    result = run(sub, "--help")
    assert result.returncode == 0 and "usage:" in result.stdout


def test_cli_does_not_import_sympy_or_matplotlib():
    code = ("import sys; from helpers.cli import main; main(['summary', 'vgg16']); "
            "main(['rf', 'resnet50']); "
            "print(sorted(m for m in ('sympy', 'matplotlib') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]"
