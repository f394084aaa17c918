"""Run one restored submission in a sandbox and collect what its ``check`` calls recorded.

With bubblewrap (``bwrap``, Linux) each submission runs in its own sandbox:

- its own user, PID, network (none), IPC, UTS and cgroup namespaces, a new
  session, and, when the grader runs as root, an unprivileged uid;
- a file system holding only the runtime, read-only (the system's ``/usr``
  and libraries, the Python installation and venv, the ``helpers`` package with
  a key that holds no answer digests), a private ``/tmp`` and a small private
  home folder in memory. No ``solutions/``, no ``tests/``, no project, no other
  submission, none of the grader's files;
- limits on memory (``RLIMIT_DATA``), processes, file size and open files, a
  per-cell time limit, and a wall-time bound on the whole notebook (``timeout``)
  enforced from outside: the sandbox is killed, and every process it started
  is gone before :func:`run` returns.

The notebook runs in :mod:`helpers.grading.runner`, which reports each cell and
each recorded answer on a pipe; the grader, outside, judges the values.

Without bubblewrap (macOS, Windows, or a Linux that forbids user namespaces)
the same runner runs as a plain process with an in-process audit hook (see
:data:`_GUARD`). That stops accidents, not an attacker: :func:`isolation` says
which one is in use, and the grader prints it loudly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ["MIME", "Outcome", "run", "prepare", "isolation", "bwrap", "kill_all", "OUTPUT_CAP"]

MIME = "application/x.workbook-check+json"
"""Display type under which ``check`` hands its encoded value to the grader."""
OUTPUT_CAP = 256 * 1024
"""Characters of output a cell may print or display before it counts as a flood."""
REPORT_CAP = 4 * 2**20
"""Bytes of reports read from one sandbox; a student writing more is cut off."""
HOME = "/home/student"
PACKAGE_MOUNT = "/opt/workbook"
FIRST_UID = 61000
"""As root, sandboxed processes run as ``FIRST_UID + slot`` (one uid per concurrent job)."""

_RUNNER = Path(__file__).with_name("runner.py")

_GUARD = r'''
import os as _os, sys as _sys
def _workbook_guard(event, args, _root={root!r}, _deny={deny!r}, _real=_os.path.realpath,
                    _decode=_os.fsdecode, _writes=_os.O_WRONLY | _os.O_RDWR | _os.O_APPEND | _os.O_CREAT):
    def inside(path):
        p = _real(_decode(path))
        return p == _root or p.startswith(_root + "/") or p == "/dev/null"
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int):
            return
        writing = any(c in mode for c in "wax+") if mode else bool((flags or 0) & _writes)
        if writing and not inside(path):
            raise PermissionError("workbook grader: writing outside the submission's folder is not allowed")
        p = _real(_decode(path))
        if any(p == d or p.startswith(d + "/") for d in _deny):
            raise PermissionError("workbook grader: reading the answer key, solutions or submissions is not allowed")
    elif event in ("os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.replace", "os.chmod",
                   "os.truncate", "shutil.rmtree", "shutil.move", "os.symlink", "os.link"):
        for path in args:
            if isinstance(path, (str, bytes, _os.PathLike)) and not inside(path):
                raise PermissionError(f"workbook grader: {{event}} outside the submission's folder is not allowed")
    elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                   "os.fork", "os.forkpty", "ctypes.dlopen", "os.kill"):
        raise PermissionError(f"workbook grader: {{event}} is not allowed")
_sys.addaudithook(_workbook_guard)
del _workbook_guard
'''


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
    status: str = "ok"
    notes: list = field(default_factory=list)


@lru_cache(maxsize=1)
def bwrap():
    """Path of a working ``bwrap``, or None (missing, or user namespaces are not allowed here)."""
    path = shutil.which("bwrap")
    if not path or not sys.platform.startswith("linux"):
        return None
    try:
        probe = subprocess.run([path, *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "true"],
                               capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return path if probe.returncode == 0 else None


def isolation():
    """One line: how submissions are isolated on this machine."""
    if bwrap():
        who = "an unprivileged uid" if os.geteuid() == 0 else "your uid in a user namespace"
        return f"sandbox: bubblewrap ({bwrap()}), no network, no project files, {who}"
    return ("WARNING: bubblewrap (bwrap) is not available: this class is NOT isolated. Student code runs as "
            "you, with only an in-process guard that a determined student can bypass. Install bubblewrap "
            "(Debian/Ubuntu: apt-get install bubblewrap) before grading untrusted work.")


def _namespaces():
    # as root: no user namespace, so that the runner can switch to a real unprivileged uid
    # (it drops root before any student code runs); otherwise a user namespace as well
    common = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
              "--die-with-parent", "--new-session"]
    return common if os.geteuid() == 0 else ["--unshare-user", *common]


def _runtime_paths():
    """Read-only paths the interpreter needs: system libraries, the Python installation, the venv."""
    paths = {"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", sys.prefix, sys.base_prefix,
             sys.exec_prefix, sys.base_exec_prefix, str(Path(sys.executable).resolve().parent.parent)}
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
                 "alternatives", "fonts"):
        paths.add(f"/etc/{name}")
    keep = sorted(p for p in paths if os.path.exists(p))
    # a path inside another is bound by its parent already
    return [p for p in keep if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in keep)]


def prepare(folder, key_path):
    """Files every sandbox of a run reads, in ``folder`` (world-readable: no secrets in it).

    The key shown inside a sandbox keeps each question's kind and points but no
    digest, so no answer can be searched for there; matplotlib's font cache is
    copied so that no sandbox rebuilds it. Returns the ``runtime`` for :func:`run`.
    """
    folder = Path(folder)
    folder.chmod(0o755)
    runtime = {"key": None, "fontlist": None}
    package = Path(__file__).resolve().parents[1]
    if key_path is not None and Path(key_path).resolve().is_relative_to(package):
        stub = folder / "answer_key.json"
        from helpers.answers.keying import assessment_key
        stub.write_text(json.dumps(assessment_key(json.loads(Path(key_path).read_text()))))
        stub.chmod(0o644)
        runtime["key"] = {"path": str(Path(key_path).resolve()), "file": str(stub)}
    source = _fontlist()
    if source is not None:
        copy = folder / source.name
        shutil.copyfile(source, copy)
        copy.chmod(0o644)
        runtime["fontlist"] = str(copy)
    return runtime


def _bwrap_command(package, key, fontlist):
    cmd = [bwrap(), *_namespaces(), "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size",
           str(256 * 2**20), "--tmpfs", "/tmp"]
    made = {"/", "/proc", "/dev", "/tmp"}

    def parents(dest):
        # bwrap makes missing parents 0700; the unprivileged uid must be able to pass through them
        out = []
        for parent in reversed(Path(dest).parents):
            if str(parent) not in made:
                made.add(str(parent))
                out += ["--perms", "0755", "--dir", str(parent)]
        return out

    for path in _runtime_paths():
        if os.path.islink(path) and path.count("/") == 1:
            cmd += ["--symlink", os.readlink(path), path]
        else:
            cmd += [*parents(path), "--ro-bind", path, path]
    mount = f"{PACKAGE_MOUNT}/helpers"
    cmd += [*parents(mount), "--ro-bind", str(package), mount]
    if key is not None:
        relative = Path(key["path"]).relative_to(package)
        cmd += ["--ro-bind", key["file"], f"{mount}/{relative.as_posix()}"]
    cmd += [*parents(HOME), "--perms", "0700", "--size", str(64 * 2**20), "--tmpfs", HOME]
    if fontlist:
        cmd += ["--perms", "0755", "--dir", f"{HOME}/.config", "--perms", "0755", "--dir", f"{HOME}/.config/matplotlib",
                "--ro-bind", str(fontlist), f"{HOME}/.config/matplotlib/{Path(fontlist).name}"]
    cmd += ["--clearenv", "--chdir", HOME]
    for name, value in _env(HOME).items():
        cmd += ["--setenv", name, value]
    return cmd + [sys.executable, "-B", "-s", f"{mount}/grading/runner.py"]


def _env(home):
    return {"HOME": home, "TMPDIR": "/tmp" if home == HOME else home, "PATH": "/usr/bin:/bin",
            "PYTHONPATH": PACKAGE_MOUNT if home == HOME else str(Path(__file__).resolve().parents[2]),
            "WORKBOOK_MODE": "grade", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{home}/.config/matplotlib", "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _fontlist():
    """matplotlib's font cache, built here once, so sandboxes never rebuild it."""
    try:
        import matplotlib.font_manager as fm
        from matplotlib import get_cachedir
    except ImportError:  # pragma: no cover - matplotlib is pinned
        return None
    found = sorted(Path(get_cachedir()).glob("fontlist-*.json"))
    return found[-1] if found else None


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
    job = {"uid": uid, "home": HOME, "cells": cells, "cell_timeout": cell_timeout, "output_cap": OUTPUT_CAP, "mime": mime,
           "limits": limits, "prelude": prelude}
    package = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="workbook-grade-") as private:
        if bwrap():
            cmd, cwd, extra = _bwrap_command(package, runtime["key"], runtime["fontlist"]), "/", {}
        else:
            home = os.path.realpath(tempfile.mkdtemp(dir=private, prefix="home-"))
            guard = _GUARD.format(root=home, deny=sorted(os.path.realpath(d) for d in deny))
            job["prelude"] = guard + prelude
            cmd, cwd, extra = [sys.executable, "-B", "-s", str(_RUNNER)], home, {}
            extra["env"] = {**_env(home), "SYSTEMROOT": os.environ.get("SYSTEMROOT", "")}
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
    outcome.ended = False
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
