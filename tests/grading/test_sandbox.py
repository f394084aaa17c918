"""The sandbox: what a notebook can see and do, time bounds, and the fallback without bubblewrap."""

import json
import os
import shutil
import sys
import time

import pytest

from helpers.grading import jail, sandbox
from helpers.release.build import ROOT

KEY = ROOT / "helpers" / "answers" / "answer_key.json"
needs_bwrap = pytest.mark.skipif(sandbox.bwrap() is None, reason="bubblewrap is not available here")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    return sandbox.prepare(tmp_path_factory.mktemp("runtime"), KEY)


def run(runtime, *sources, timeout=30, cell_timeout=10):
    cells = [{"id": n, "source": s} for n, s in enumerate(sources)]
    return sandbox.run(cells, prelude="", memory=512 * 2**20, cell_timeout=cell_timeout, timeout=timeout,
                       runtime=runtime)


@needs_bwrap
def test_only_the_runtime_is_visible(runtime):
    probe = f"""import os, json
seen = {{p: os.path.exists(p) for p in ({str(ROOT / 'solutions')!r}, {str(ROOT / 'tests')!r}, {str(KEY)!r},
                                       '/opt/workbook/helpers/answers/answer_key.json', {sys.prefix!r})}}
key = json.load(open('/opt/workbook/helpers/answers/answer_key.json'))
raise RuntimeError(json.dumps([seen[p] for p in sorted(seen)] + ['digest' in json.dumps(key), os.getuid()]))"""
    out = run(runtime, probe)
    seen = json.loads(out.errors[0].split(": ", 1)[1])
    flags = dict(zip(sorted([str(ROOT / "solutions"), str(ROOT / "tests"), str(KEY),
                             "/opt/workbook/helpers/answers/answer_key.json", sys.prefix]), seen, strict=False))
    assert flags == {str(ROOT / "solutions"): False, str(ROOT / "tests"): False, str(KEY): False,
                     "/opt/workbook/helpers/answers/answer_key.json": True, sys.prefix: True}
    assert seen[-2] is False                                     # no digest inside
    if os.geteuid() == 0:
        assert seen[-1] >= sandbox.FIRST_UID                     # not root: an unprivileged uid


@needs_bwrap
def test_timeout_is_the_wall_bound_even_when_interrupts_are_ignored(runtime):
    start = time.monotonic()
    out = run(runtime, "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass",
              "x = 1", timeout=6, cell_timeout=2)
    took = time.monotonic() - start
    assert out.status == "timeout" and 0 not in out.finished and 1 not in out.reached
    assert took < 6 + 3, took


def test_fallback_without_bubblewrap_is_loud_and_still_grades(runtime, monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap", lambda: None)
    monkeypatch.setattr(jail, "bwrap", lambda: None)
    assert jail.isolation().startswith("WARNING: bubblewrap (bwrap) is not available: this class is NOT isolated")
    out = sandbox.run([{"id": 0, "source": "import os\nos.system('true')"}, {"id": 1, "source": "y = 2"}],
                      prelude="", memory=512 * 2**20, cell_timeout=10, timeout=30, runtime=runtime,
                      deny=[str(ROOT / "solutions")])
    assert out.status == "forbidden" and "workbook grader: os.system is not allowed" in out.errors[0]
    assert 1 in out.finished


@pytest.mark.skipif(not (sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("bwrap")),
                    reason="only where CI installs bubblewrap as root")
def test_bubblewrap_works_where_it_is_installed():
    assert sandbox.bwrap() is not None
