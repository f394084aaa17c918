"""The README's map of ``helpers`` names every module, and nothing that is not one."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def listed():
    text = ROOT.joinpath("README.md").read_text()
    table = text.split("### Map of `helpers`", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    return {name for row in table.splitlines() for name in re.findall(r"`([\w/]+\.py)`", row.split("|")[1])}


def test_the_map_lists_every_module_and_only_modules():
    modules = {p.relative_to(ROOT / "helpers").as_posix() for p in (ROOT / "helpers").rglob("*.py")
               if p.name not in ("__main__.py",) and not (p.name == "__init__.py" and p.parent.name != "helpers")
               and "student" not in p.parts}
    assert listed() == modules
