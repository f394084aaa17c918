"""The two install recipes agree, every pin is exact, the package's own dependencies are light,
and the stated Python version is the same everywhere."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

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


def requirement_pins():
    return pins(line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#"))


def test_environment_yml_parses_and_pins_python_311():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pins(p for p in pip if "==" in p) == requirement_pins() and "-e ." in pip


def test_pyproject_states_python_311_and_every_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "Python 3.11" in (ROOT / "README.md").read_text()
    names = {re.split(r"[<>=!~]", d)[0]: d for d in project["dependencies"]}
    assert sorted(names) == ["cryptography", "matplotlib", "numpy", "scikit-learn", "sympy"]
    assert names["numpy"] == "numpy>=2.1"          # the engine's np.reshape(..., copy=False)
    extras = project["optional-dependencies"]
    assert {"pytest-xdist", "nbval", "hypothesis"} <= set(extras["test"])
    assert {"nbconvert", "latex2mathml"} <= set(extras["html"])
    assert {"nbformat", "nbclient", "ipykernel"} <= set(extras["authoring"]) & set(extras["grading"])
    named = set(names).union(*extras.values())
    assert sorted(n for n in named if n.lower() not in requirement_pins()) == []


def test_the_notebook_api_needs_only_the_light_dependencies():
    blocked = ["nbformat", "nbclient", "ipykernel", "nbconvert", "jupyter_client", "jupyterlab", "nbval"]
    code = (f"import sys\nfor name in {blocked!r}: sys.modules[name] = None\n"
            "import helpers\nfrom helpers import check\nfrom helpers.summaries import summary\n"
            "from helpers.receptive import final_field\nfrom helpers import zoo, symbols\n"
            "assert summary('alexnet').totals and final_field(zoo.get('alexnet'))\n"
            "print(check('no.such_question', 1).status)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "unknown"
