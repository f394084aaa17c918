"""Run one restored submission in its sandbox (:mod:`~helpers.grading.jail`) and collect its answers.

- The notebook runs in :mod:`~helpers.grading.runner`, which reports each cell and each
  recorded answer on a pipe; the grader, outside, judges the values.
- Limits: memory (``RLIMIT_DATA``), processes, file size and open files (set by the
  runner before any student code); a per-cell time limit; and ``timeout``, the bound of
  the notebook's wall time, sandbox start included, enforced from outside: the sandbox
  is killed, and every process it started is gone before :func:`run` returns.
- Every report line is untrusted data: malformed ones are counted and ignored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from helpers.answers.checking import MIME
from helpers.grading.jail import FIRST_UID, GUARD, HOME, RUNNER, bwrap, command, fallback_env, isolation, prepare

__all__ = ["MIME", "Outcome", "run", "prepare", "isolation", "bwrap", "kill_all", "OUTPUT_CAP", "FIRST_UID"]

OUTPUT_CAP = 256 * 1024
"""Characters of output a cell may print or display before it counts as a flood."""
REPORT_CAP = 4 * 2**20
"""Bytes of reports read from one sandbox; a student writing more is cut off."""


@dataclass
class Outcome:
    """What happened when a notebook ran."""

    records: dict = field(default_factory=dict)
    """(qid, cell id) -> encoded value of the last check of ``qid`` in that cell."""
    errors: dict = field(default_factory=dict)
    """cell id -> 'ErrorName: message' for cells that raised."""
    reached: set = field(default_factory=set)
    """Ids of cells that started."""
    finished: set = field(default_factory=set)
    """Ids of cells that ran to their end (with or without an error)."""
    flooded: list = field(default_factory=list)
    ended: bool = False
    """The runner reported that every cell ran."""
    cpu: float | None = None
    """CPU seconds the notebook's process used (reported by it: for benchmarks, not for grades)."""
    status: str = "ok"
    notes: list = field(default_factory=list)

def run(cells, *, prelude, memory, cell_timeout, timeout, runtime, slot=0, deny=(), mime=MIME):
    """Run ``cells`` (``[{"id": ..., "source": ...}]``) in a fresh sandbox; return an :class:`Outcome`.

    ``timeout`` bounds the wall time of the whole notebook, sandbox start included.
    ``runtime`` comes from :func:`prepare`.
    ``deny`` lists paths the fallback guard refuses (unused with bubblewrap).
    """
    outcome = Outcome()
    limits = {"RLIMIT_DATA": int(memory), "RLIMIT_FSIZE": 64 * 2**20, "RLIMIT_CORE": 0, "RLIMIT_NOFILE": 256}
    uid = None
    if bwrap() and os.geteuid() == 0:
        uid = FIRST_UID + slot             # the runner drops root to it before any student code
        limits["RLIMIT_NPROC"] = 256      # per uid, and each concurrent job has its own uid
    job = {"uid": uid, "home": HOME, "cells": cells, "cell_timeout": cell_timeout, "output_cap": OUTPUT_CAP,
           "mime": mime, "limits": limits, "prelude": prelude}
    package = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="workbook-grade-") as private:
        if bwrap():
            cmd, cwd, extra = command(package, runtime["key"], runtime["fontlist"]), "/", {}
        else:
            home = os.path.realpath(tempfile.mkdtemp(dir=private, prefix="home-"))
            guard = GUARD.format(root=home, deny=sorted(os.path.realpath(d) for d in deny))
            job["prelude"] = guard + prelude
            cmd, cwd, extra = [sys.executable, "-B", "-s", str(RUNNER)], home, {}
            extra["env"] = {**fallback_env(home), "SYSTEMROOT": os.environ.get("SYSTEMROOT", "")}
        _execute(cmd, cwd, extra, job, timeout, outcome)
    return outcome


def _execute(cmd, cwd, extra, job, timeout, outcome):
    started = time.monotonic()
    lines, stderr = [], []
    info_r, info_w = os.pipe()
    if cmd[0] == bwrap():
        cmd = [cmd[0], "--info-fd", str(info_w), *cmd[1:]]
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, pass_fds=(info_w,), **extra)
    finally:
        os.close(info_w)
    _LIVE.add(proc)
    info = []
    try:
        readers = [threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True),
                   threading.Thread(target=_read_tail, args=(proc.stderr, stderr), daemon=True),
                   threading.Thread(target=_read_info, args=(info_r, info), daemon=True)]
        for t in readers:
            t.start()
        try:
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=max(0.1, timeout - (time.monotonic() - started)))
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        _kill(proc)
        for t in readers:
            t.join(timeout=5)
    finally:
        _kill(proc)
        _wait_gone(info)
        _LIVE.discard(proc)
    _interpret(lines, outcome, cmd_failed=b"".join(stderr).decode(errors="replace").strip())
    if timed_out:
        outcome.status = "timeout"
        where = f" in cell {_last_started(lines)}" if _last_started(lines) is not None else ""
        outcome.notes.append(f"notebook time limit ({timeout:g} s) reached{where}: the sandbox was stopped")
    elif not outcome.ended:
        outcome.status = _worse(outcome.status, "killed")
        outcome.notes.append(_death(proc.returncode, _last_started(lines), b"".join(stderr)))


def _kill(proc):
    """Kill the sandbox and wait until every process in it is gone."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    proc.wait()
    # bwrap's --die-with-parent and its PID namespace take down everything started inside;
    # without bwrap, kill what is left of the process group
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _read_info(fd, info):
    with os.fdopen(fd, "rb") as stream:
        data = stream.read(4096)
    try:
        info.append(int(json.loads(data)["child-pid"]))
    except (ValueError, KeyError, TypeError):
        pass


def _wait_gone(info, limit=10.0):
    """Wait until the sandbox's init (and so its whole PID namespace) has exited."""
    if not info:
        return
    deadline = time.monotonic() + limit
    status = Path(f"/proc/{info[0]}/status")
    while time.monotonic() < deadline:
        try:
            if "State:\tZ" in status.read_text():
                return
        except OSError:
            return
        time.sleep(0.01)
    raise RuntimeError(f"the sandbox's processes did not exit within {limit:g} s")


_LIVE = set()
"""Sandboxes running now (killed by :func:`kill_all` on interrupt)."""


def kill_all():
    for proc in list(_LIVE):
        _kill(proc)


def _read_lines(stream, lines):
    total = 0
    for line in stream:
        total += len(line)
        if total > REPORT_CAP:
            lines.append(b'{"overflow": true}')
            break
        lines.append(line)
    stream.close()


def _read_tail(stream, chunks):
    data = stream.read(64 * 1024)
    chunks.append(data or b"")
    stream.close()


def _last_started(lines):
    last = None
    for line in lines:
        message = _parse(line)
        if isinstance(message, dict) and "start" in message:
            last = message["start"]
    return last


def _parse(line):
    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _interpret(lines, outcome, cmd_failed):
    """Fold the runner's reports into ``outcome``; anything malformed is noted, never raised."""
    malformed = 0
    for line in lines:
        m = _parse(line)
        if not isinstance(m, dict) or len(m) == 0:
            malformed += 1
            continue
        if "start" in m and isinstance(m["start"], (int, str)):
            outcome.reached.add(m["start"])
        elif "record" in m and isinstance(m.get("record"), (int, str)) and isinstance(m.get("payload"), dict):
            qid = m["payload"].get("qid")
            if isinstance(qid, str) and "value" in m["payload"]:
                outcome.records[qid, m["record"]] = m["payload"]["value"]
            else:
                malformed += 1
        elif "done" in m and isinstance(m["done"], (int, str)):
            outcome.finished.add(m["done"])
            if m.get("flooded"):
                outcome.flooded.append(m["done"])
            error = m.get("error")
            if isinstance(error, str):
                outcome.errors[m["done"]] = error[:300]
                outcome.status = _worse(outcome.status, _error_status(error))
        elif isinstance(m.get("fatal"), str) and not outcome.reached:
            outcome.notes.append("the grader's runner failed: " + m["fatal"][:300])
        elif m.get("end") is True:
            outcome.ended = True
            outcome.cpu = m["cpu"] if isinstance(m.get("cpu"), float) else None
        elif m.get("overflow"):
            outcome.notes.append(f"more than {REPORT_CAP // 2**20} MiB of reports: the rest was ignored")
        else:
            malformed += 1
    if malformed:
        outcome.notes.append(f"{malformed} malformed report line(s) ignored (not written by the grader)")
    if outcome.flooded:
        outcome.notes.append(f"output over {OUTPUT_CAP // 1024} KiB dropped in cell(s) "
                             + ", ".join(map(str, outcome.flooded)))
        outcome.status = _worse(outcome.status, "output-limit")
    if cmd_failed and not outcome.reached:
        outcome.notes.append("the sandbox did not start: " + cmd_failed.splitlines()[-1][:200])


def _error_status(message):
    kind = message.split(":")[0]
    if kind == "MemoryError":
        return "memory"
    if kind == "CellTimeout":
        return "timeout"
    if "workbook grader:" in message:
        return "forbidden"
    return "error"


def _death(code, cell, stderr):
    where = f" in cell {cell}" if cell is not None else " before the first cell"
    if code is not None and (code < 0 or code > 128):
        number = -code if code < 0 else code - 128
        name = {signal.SIGSEGV: "a segmentation fault, e.g. a recursion too deep for the C stack",
                signal.SIGKILL: "SIGKILL, e.g. out of memory or a process that killed it",
                signal.SIGABRT: "an abort"}.get(number, signal.Signals(number).name
                                               if number in signal.Signals._value2member_map_ else f"signal {number}")
        return f"the notebook's process died{where} ({name})"
    return f"the notebook's process exited with status {code}{where}"


_RANK = ["ok", "output-limit", "error", "forbidden", "memory", "timeout", "killed"]


def _worse(a, b):
    return a if _RANK.index(a) >= _RANK.index(b) else b
