"""The sandbox itself: a bubblewrap command holding only the runtime, or, without bubblewrap, a guard.

With bubblewrap (``bwrap``, Linux) a submission's process gets its own user (unless
the grader is root), PID, network (none), IPC, UTS and cgroup namespaces and a new
session, and a file system holding only the runtime, read-only: the system's
``/usr`` and libraries, the Python installation and venv, and the ``helpers``
package with a key that holds no digest (:func:`helpers.answers.keying.assessment_key`);
a private ``/tmp`` and a small private home folder in memory. No ``solutions/``, no
``tests/``, no project, no other submission, none of the grader's files. When the
grader runs as root, the runner drops to an unprivileged uid of its own
(``FIRST_UID + slot``) before any student code runs.

Without bubblewrap (macOS, Windows, or a Linux that forbids namespaces) the runner
runs as a plain process under :data:`GUARD`, an in-process audit hook: it stops
accidents, not an attacker, and :func:`isolation` says so loudly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

__all__ = ["bwrap", "isolation", "prepare", "command", "fallback_env", "GUARD", "RUNNER", "FIRST_UID"]

HOME = "/home/student"
PACKAGE_MOUNT = "/opt/workbook"
FIRST_UID = 61000
"""As root, sandboxed processes run as ``FIRST_UID + slot`` (one uid per concurrent job)."""
RUNNER = Path(__file__).with_name("runner.py")

GUARD = r'''
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


def command(package, key, fontlist):
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
    for name, value in fallback_env(HOME).items():
        cmd += ["--setenv", name, value]
    return cmd + [sys.executable, "-B", "-s", f"{mount}/grading/runner.py"]


def fallback_env(home):
    return {"HOME": home, "TMPDIR": "/tmp" if home == HOME else home, "PATH": "/usr/bin:/bin",
            "PYTHONPATH": PACKAGE_MOUNT if home == HOME else str(Path(__file__).resolve().parents[2]),
            "WORKBOOK_MODE": "grade", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{home}/.config/matplotlib", "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _fontlist():
    """matplotlib's font cache, built here once, so sandboxes never rebuild it."""
    try:
        import matplotlib.font_manager  # noqa: F401 - importing it builds the font cache
        from matplotlib import get_cachedir
    except ImportError:  # pragma: no cover - matplotlib is pinned
        return None
    found = sorted(Path(get_cachedir()).glob("fontlist-*.json"))
    return found[-1] if found else None
