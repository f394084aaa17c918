"""Inside the sandbox: run a restored notebook's code cells and report each step as a JSON line.

This file runs as ``python runner.py`` in the sandboxed process (never imported by
the grader). It reads the job (cells and limits) from stdin, keeps the original
stdout as its report channel and points fd 0, 1 and 2 at ``/dev/null``, so what
a student prints never mixes with the reports. It then sets the process limits
and runs each cell in an IPython shell, in order:

- ``{"start": id}`` before a cell, ``{"done": id, "error": ..., "flooded": ...}``
  after it; ``{"record": id, "payload": ...}`` for each ``check`` the cell made
  (``check`` in grading mode displays its encoded value under the grader's MIME
  type); ``{"end": true}`` when every cell ran.
- Output a student's code prints or displays is counted and dropped (its size
  only decides ``flooded``): answers are records, so a flood can never push one
  out, and nothing here depends on timing.
- A cell over its time limit gets :class:`CellTimeout` (a ``KeyboardInterrupt``)
  from ``SIGALRM``; a cell that ignores it runs into the notebook's wall limit,
  which the grader enforces from outside by killing the whole sandbox.

A student can write to the report channel too (it is a file descriptor of their
process): the grader treats every line as untrusted data, and a forged record
earns nothing a correct answer would not.
"""

import json
import os
import signal
import sys


class CellTimeout(KeyboardInterrupt):
    """Raised in a cell that ran over its time limit."""


class _Sink:
    """A text stream that counts what is written and keeps none of it."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self):
        self.size = 0

    def write(self, text):
        self.size += len(text) if isinstance(text, str) else 0
        return len(text) if isinstance(text, str) else 0

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True


def _limits(job):
    import resource
    for name, value in job["limits"].items():
        kind = getattr(resource, name)
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            soft, hard = resource.getrlimit(kind)
            if hard == resource.RLIM_INFINITY or value < hard:
                resource.setrlimit(kind, (value, value))


def _drop_root(job):
    """Running as root in the sandbox (the grader ran as root): become an unprivileged uid for good."""
    uid = job.get("uid")
    if uid is None or os.geteuid() != 0:
        return
    for top, dirs, _files in os.walk(job["home"]):
        for path in [top, *(os.path.join(top, d) for d in dirs)]:
            os.chown(path, uid, uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() == 0:
        raise SystemExit("could not drop root")


def main():
    job = json.loads(sys.stdin.read())
    _drop_root(job)
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)

    def send(message):
        try:
            channel.write(json.dumps(message) + "\n")
            channel.flush()
        except (OSError, ValueError, TypeError):
            pass

    mime, cap = job["mime"], job["output_cap"]
    current = {"cell": None}
    sink = _Sink()
    sys.stdout = sys.stderr = sink
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()

    def publish(data=None, metadata=None, *args, **kwargs):
        if isinstance(data, dict) and mime in data:
            send({"record": current["cell"], "payload": data[mime]})
        else:
            try:
                sink.size += sum(len(str(v)) for v in data.values()) if isinstance(data, dict) else 1
            except Exception:  # noqa: BLE001 - an odd display must not stop the notebook
                sink.size += 1

    shell.display_pub.publish = publish

    def alarm(signum, frame):
        raise CellTimeout(f"cell ran over {job['cell_timeout']:g} s")

    signal.signal(signal.SIGALRM, alarm)
    _limits(job)
    exec(compile(job["prelude"], "<grader>", "exec"), shell.user_ns)
    for cell in job["cells"]:
        current["cell"] = cell["id"]
        sink.size = 0
        sys.stdout = sys.stderr = sink
        send({"start": cell["id"]})
        signal.setitimer(signal.ITIMER_REAL, job["cell_timeout"])
        try:
            result = shell.run_cell(cell["source"], store_history=False)
            error = result.error_in_exec or result.error_before_exec
        except BaseException as err:  # noqa: BLE001 - the timeout can land outside the cell's code
            error = err
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        text = None
        if error is not None:
            try:
                text = f"{type(error).__name__}: {str(error)[:160]}"
            except Exception:  # noqa: BLE001 - a hostile __str__
                text = f"{type(error).__name__}: (message could not be shown)"
        send({"done": cell["id"], "error": text, "flooded": sink.size > cap})
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    send({"end": True, "cpu": usage.ru_utime + usage.ru_stime})
    channel.close()
    os._exit(0)


if __name__ == "__main__":
    try:
        main()
    except BaseException as err:  # noqa: BLE001 - tell the grader why, on the real stdout if it is still there
        import traceback
        message = json.dumps({"fatal": "".join(traceback.format_exception_only(type(err), err)).strip()[-300:]})
        for fd in (1, 3, 4):
            try:
                os.write(fd, (message + "\n").encode())
            except OSError:
                pass
        os._exit(1)
