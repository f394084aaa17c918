"""Every zoo model against published figures (with their sources) and golden tables."""

import json
from pathlib import Path

import pytest

from helpers import zoo
from helpers.receptive import final_field, receptive_field
from helpers.summaries import summary

GOLDEN = Path(__file__).parents[1] / "golden"


def published_cases():
    for name in zoo.names():
        for figure, (value, source) in zoo.entry(name).published.items():
            yield pytest.param(name, figure, value, source, id=f"{name}-{figure}")


@pytest.mark.parametrize("name, figure, value, source", list(published_cases()))
def test_published_figures(name, figure, value, source):
    assert source  # every figure names where it comes from
    if figure == "params":
        assert summary(name).totals["params"] == value
    elif figure == "macs":   # published to two decimals in G
        assert round(summary(name).totals["macs"] / 1e9, 2) == round(value / 1e9, 2)
    elif figure == "rf":
        assert final_field(zoo.get(name)).size == value
        assert final_field(zoo.get(name)).stride == 32
    else:
        pytest.fail(f"unknown figure {figure}")


def test_every_real_model_has_a_published_or_derived_check():
    # the models without a published total are tied to ones that have one
    half = summary("resnet50-half")
    assert [r.output[0] for r in half.select("Conv2d")] == [
        r.output[0] // 2 for r in summary("resnet50").select("Conv2d")]
    assert summary("inception-naive").rows[-1].output == (256, 32, 32)


def golden_payload(name):
    fields = receptive_field(zoo.get(name))
    final = final_field(zoo.get(name))
    data = summary(name).to_dict()
    data["rf"] = {f.name: [f.size, f.stride, f.padding] for f in fields}
    data["rf_final"] = [final.size, final.stride, final.padding]
    return data


@pytest.mark.parametrize("name", zoo.names())
def test_golden_tables(name, request):
    path = GOLDEN / f"{name}.json"
    payload = json.loads(json.dumps(golden_payload(name)))
    if request.config.getoption("--update-golden"):
        path.write_text(json.dumps(payload, indent=1) + "\n")
    assert path.exists(), f"no golden table for {name}: run `make golden` and review it"
    assert json.loads(path.read_text()) == payload


@pytest.mark.parametrize("name, width, v1", [("resnet50", 1.0, False), ("resnet50-v1", 1.0, True),
                                             ("resnet50-half", 0.5, False)])
def test_resnets_match_a_first_principles_count(name, width, v1):
    from reference.resnet import resnet50_counts
    t = summary(name).totals
    assert (t["params"], t["macs"], t["activations"]) == resnet50_counts(width, v1)
