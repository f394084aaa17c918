"""The two install recipes agree, and every pin is exact."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def pins(lines):
    return {line.split("==")[0].lower(): line.split("==")[1] for line in lines}


def test_requirements_are_exact_pins():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+!]+", l) for l in lines), lines
    for needed in ("numpy", "sympy", "matplotlib", "nbval", "pytest", "hypothesis", "jupyterlab", "scikit-learn"):
        assert needed in pins(lines)


def test_environment_yml_mirrors_requirements():
    req = pins(l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()
               if l.strip() and not l.startswith("#"))
    env_lines = [l.strip()[2:].strip() for l in (ROOT / "environment.yml").read_text().splitlines()
                 if l.strip().startswith("- ") and "==" in l]
    assert pins(env_lines) == req
    assert "python=3.11" in (ROOT / "environment.yml").read_text()
