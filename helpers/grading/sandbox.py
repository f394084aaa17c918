"""Run one restored submission in a fresh kernel, with limits, and collect its answers.

What the sandbox gives (see the README's "Grading" section for what it does not):

- a fresh kernel per notebook, started in its own temporary folder (also its
  ``HOME`` and ``TMPDIR``);
- a per-cell and a per-notebook time limit (a cell over its limit is
  interrupted and the next cell still runs);
- a memory limit on the kernel's data (``RLIMIT_DATA``): an allocation beyond
  it raises ``MemoryError`` in the cell;
- a cap on the output kept per cell (a flood is cut off, not stored);
- a Python audit hook, installed before any student code, that refuses to open
  files for writing outside the temporary folder, to read the answer key, the
  solutions or any submission, and to start processes or load native libraries.

In grading mode ``check`` prints nothing and emits its encoded value as a
display output of the cell that called it; the grader, not the kernel, judges.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field

from helpers.answers.checking import MIME
from helpers.grading.restore import CHECK_ALIAS

__all__ = ["MIME", "Outcome", "run_notebook"]

OUTPUT_CAP = 256 * 1024
"""Bytes of output kept per cell; the rest is dropped."""

_GUARD = r'''
import os as _os, resource as _resource, sys as _sys
_resource.setrlimit(_resource.RLIMIT_DATA, ({memory}, {memory}))
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
from helpers.answers.checking import check as {alias}
'''


@dataclass
class Outcome:
    """What happened when a notebook ran."""

    records: dict = field(default_factory=dict)
    """qid -> (cell index, encoded value) of the last check in the cell holding it."""
    errors: dict = field(default_factory=dict)
    """cell index -> 'ErrorName: message' for cells that raised."""
    reached: set = field(default_factory=set)
    """Indices of cells that were executed (fully or not)."""
    status: str = "ok"
    notes: list = field(default_factory=list)


class _CappedClient:
    """Factory for an nbclient client that drops output beyond ``OUTPUT_CAP`` per cell."""

    @staticmethod
    def make(nb, cwd, cell_timeout):
        from nbclient import NotebookClient

        class Client(NotebookClient):
            flooded = set()

            def output(self, outs, msg, display_id, cell_index):
                size = sum(len(json.dumps(o)) for o in outs)
                if size > OUTPUT_CAP and msg["msg_type"] in ("stream", "display_data", "execute_result"):
                    if not (msg["msg_type"] == "display_data" and MIME in msg["content"].get("data", {})):
                        self.flooded.add(cell_index)
                        return None
                return super().output(outs, msg, display_id, cell_index)

        # interrupt_on_timeout: nbclient interrupts the kernel and keeps waiting for the
        # same cell's reply, so no poller of the timed-out cell is left to eat later output
        return Client(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                      interrupt_on_timeout=True, resources={"metadata": {"path": cwd}})


def run_notebook(nb, deny, memory_bytes, cell_timeout, notebook_timeout):
    """Execute the restored notebook ``nb`` (modified in place) and return an :class:`Outcome`."""
    import threading

    from nbclient.exceptions import DeadKernelError
    from nbformat.v4 import new_code_cell

    outcome = Outcome()
    with tempfile.TemporaryDirectory(prefix="workbook-grade-") as tmp:
        root = os.path.realpath(tmp)
        guard = new_code_cell(_GUARD.format(memory=int(memory_bytes), root=root,
                                            deny=sorted(os.path.realpath(d) for d in deny), alias=CHECK_ALIAS))
        env = {**os.environ, "WORKBOOK_MODE": "grade", "HOME": root, "TMPDIR": root,
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
        env.pop("WORKBOOK_RECORD", None)
        # nbclient stores each executed cell back at nb.cells[index]: the guard gets a real slot
        nb.cells.insert(0, guard)
        client = _CappedClient.make(nb, root, cell_timeout)
        started = time.monotonic()
        watchdog = None
        try:
            with client.setup_kernel(env=env, cwd=root):
                # a kernel that ignores interrupts is killed when the notebook's time is up
                watchdog = threading.Timer(notebook_timeout + 2 * cell_timeout, _kill, [client, outcome])
                watchdog.daemon = True
                watchdog.start()
                client.execute_cell(guard, 0)
                if any(o.get("output_type") == "error" for o in guard.outputs):
                    raise RuntimeError("the grader's guard cell failed: " + _error(guard))
                for index, cell in enumerate(nb.cells[1:]):
                    if cell.cell_type != "code":
                        continue
                    if time.monotonic() - started > notebook_timeout:
                        outcome.status = "timeout"
                        outcome.notes.append(f"notebook time limit ({notebook_timeout:g} s) reached at cell {index}")
                        break
                    outcome.reached.add(index)
                    cell_start = time.monotonic()
                    client.execute_cell(cell, index + 1)
                    if (time.monotonic() - cell_start >= cell_timeout
                            and _error(cell).startswith("KeyboardInterrupt")):
                        outcome.errors[index] = f"TimeoutError: cell ran over {cell_timeout:g} s"
                        outcome.status = _worse(outcome.status, "timeout")
                        continue
                    _collect(cell, index, outcome)
        except DeadKernelError:
            if outcome.status != "timeout":
                outcome.status = "killed"
                outcome.notes.append("the kernel died (it exited, or was killed, e.g. for memory)")
        finally:
            if watchdog is not None:
                watchdog.cancel()
            del nb.cells[0]
        if client.flooded:
            outcome.notes.append(f"output over {OUTPUT_CAP // 1024} KiB dropped in cell(s) "
                                 + ", ".join(str(i - 1) for i in sorted(client.flooded)))
            if outcome.status == "ok":
                outcome.status = "output-limit"
    return outcome


def _kill(client, outcome):
    """Watchdog: the notebook ran out of time and its kernel did not stop: kill it."""
    outcome.status = "timeout"
    outcome.notes.append("the kernel did not stop when interrupted and was killed at the time limit")
    try:
        client.km.provisioner.process.kill()
    except Exception:  # noqa: BLE001 - already gone
        pass


def _error(cell):
    for o in cell.outputs:
        if o.get("output_type") == "error":
            return f"{o.get('ename')}: {str(o.get('evalue'))[:160]}"
    return ""


def _collect(cell, index, outcome):
    for o in cell.outputs:
        data = o.get("data", {}) if o.get("output_type") == "display_data" else {}
        if MIME in data:
            payload = data[MIME]
            if isinstance(payload, str):
                payload = json.loads(payload)
            outcome.records[payload["qid"]] = (index, payload["value"])
    if any(o.get("output_type") == "error" for o in cell.outputs):
        message = _error(cell)
        outcome.errors[index] = message
        kind = message.split(":")[0]
        if kind == "MemoryError":
            outcome.status = _worse(outcome.status, "memory")
        elif "workbook grader:" in message:
            outcome.status = _worse(outcome.status, "forbidden")
        else:
            outcome.status = _worse(outcome.status, "error")


_RANK = ["ok", "output-limit", "error", "forbidden", "memory", "timeout", "killed"]


def _worse(a, b):
    return a if _RANK.index(a) >= _RANK.index(b) else b
