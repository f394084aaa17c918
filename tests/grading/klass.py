"""Build a class of honest and hostile submissions of notebooks 04 and 08, from the project itself.

Answers come from the solution regions (``### BEGIN SOLUTION`` ... ``### END
SOLUTION``) of ``solutions/``, put in place of the student copy's stubs, so the class
follows the notebooks as they change. Each submission is a transformation of the
student copy; :data:`CLASS` lists them with the row the grader must give, written
down before running: a status, and a score as an expression in

- ``full``: the notebook's maximum;
- ``first`` / ``last``: the points of the questions checked in the first / last
  answer cell (an attack placed in that cell costs exactly those).

Nothing here is committed as a binary: the class is generated into a temporary folder.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

NB04, NB08 = "04-padding-and-stride.ipynb", "08-tpu-utilisation.ipynb"
MIME = "application/x.workbook-check+json"
_QID = re.compile(r"""\bcheck\(\s*["']([A-Za-z0-9_]+\.[A-Za-z0-9_.]+)["']""")


class Release:
    """A released notebook with its answer cells and their worked answers."""

    def __init__(self, root, name):
        self.name = name
        self.student = json.loads((Path(root) / "notebooks" / name).read_text())
        solution = json.loads((Path(root) / "solutions" / name).read_text())
        regions = {c["id"]: _region(_text(c["source"])) for c in solution["cells"] if c["cell_type"] == "code"}
        self.answers = []            # (index, stub lines, worked lines, qids)
        for index, cell in enumerate(self.student["cells"]):
            lines = _text(cell["source"]).split("\n")
            if cell["cell_type"] == "code" and any(line.rstrip().endswith("# your answer") for line in lines):
                self.answers.append((index, [line for line in lines if line.rstrip().endswith("# your answer")],
                                     regions[cell["id"]], _QID.findall("\n".join(lines))))

    def points(self, key, cells):
        return sum(key["questions"][q]["points"] for index, _, _, qids in self.answers if index in cells
                   for q in qids)

    def worked(self, replace=None):
        """The student copy with every answer worked; ``replace`` maps a cell index to other lines."""
        nb = copy.deepcopy(self.student)
        for index, stubs, worked, _ in self.answers:
            lines = (replace or {}).get(index, worked)
            source = _text(nb["cells"][index]["source"]).split("\n")
            first = source.index(stubs[0])
            last = source.index(stubs[-1])
            while first and lines and source[first - 1].strip() == lines[0].strip():   # a def's kept header
                first -= 1
            nb["cells"][index]["source"] = "\n".join(source[:first] + lines + source[last + 1:])
        return nb

    @property
    def first(self):
        return self.answers[0][0]

    @property
    def last(self):
        return self.answers[-1][0]


def _text(source):
    return "".join(source) if isinstance(source, list) else source


def _region(source):
    lines = source.split("\n")
    if "### BEGIN SOLUTION" not in [line.strip() for line in lines]:
        return []
    begin = [line.strip() for line in lines].index("### BEGIN SOLUTION")
    end = [line.strip() for line in lines].index("### END SOLUTION")
    return lines[begin + 1:end]


def _without_ids(nb):
    nb = copy.deepcopy(nb)
    nb["nbformat_minor"] = 4
    for cell in nb["cells"]:
        cell.pop("id", None)
    return nb


def _insert(nb, at, cell_type, source):
    nb = copy.deepcopy(nb)
    cell = {"cell_type": cell_type, "metadata": {}, "source": source, "id": f"added-{at}"}
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    nb["cells"].insert(at, cell)
    return nb


def _with_attack(release, cell, attack, keep_answer=True):
    """The worked notebook with ``attack`` lines at the start of answer cell ``cell``."""
    worked = dict((i, w) for i, _, w, _ in release.answers)
    return release.worked({cell: attack.split("\n") + (worked[cell] if keep_answer else [])})


# --- attacks: each tries to get an answer, or to harm the grader, other students or the machine ---

_PLACES = "['/', '/work/*/', '/*/', '/home/*/', '/opt/*/', '/tmp/*/', '/root/*/', '../', '../../']"
READ_SOLUTIONS = f"""import glob
found = [p for place in {_PLACES} for p in glob.glob(place + 'solutions/*.ipynb')]
secret = open(found[0]).read()"""
READ_TESTS = f"""import glob
found = [p for place in {_PLACES} for p in glob.glob(place + 'tests/**/test_*.py', recursive=True)]
secret = open(found[0]).read()"""
FD_RELATIVE = """import os, glob
root = os.open('/', os.O_RDONLY | os.O_DIRECTORY)
projects = [os.path.dirname(p) for p in glob.glob('/work/*/.venv')] or ['work/main']
secret = [open(os.path.relpath(p, '/') + '/solutions/08-tpu-utilisation.ipynb',
              opener=lambda path, flags: os.open(path, flags, dir_fd=root)).read() for p in projects]"""
PROC_ESCAPE = """import os, glob
found = [p for pid in os.listdir('/proc') if pid.isdigit()
         for p in glob.glob(f'/proc/{pid}/root/work/*/solutions') + glob.glob(f'/proc/{pid}/cwd/solutions')]
secret = os.listdir(found[0])"""
DISARM_GUARD = """import gc, sys
hooks = [o for o in gc.get_objects() if callable(o) and 'guard' in getattr(o, '__name__', '')]
for h in hooks:
    h.__code__ = (lambda *a: None).__code__
import helpers.answers as h
import json
key = json.load(open(h.KEY_PATH))
secret = [e['digest'] for e in key['questions'].values()]"""
NATIVE_OPEN = """import ctypes
libc = ctypes.CDLL(None)
fd = libc.open(b'/work/main/solutions/08-tpu-utilisation.ipynb', 0)
assert fd >= 0, 'native open failed'"""
NATIVE_SYSCALL = """import ctypes, os
libc = ctypes.CDLL(None)
buf = ctypes.create_string_buffer(4096)
n = libc.syscall(257, -100, b'/work/main/helpers/answers/answer_key.json', 0)  # openat
assert n >= 0, 'no key'"""
NETWORK = """import socket
socket.create_connection(('127.0.0.1', 22), timeout=2)"""
SETUID = """import os
os.setuid(0)"""
KEY_SEARCH = """import json, helpers.answers as h
key = json.load(open(h.KEY_PATH))
digest = key['questions'][next(iter(key['questions']))]['digest']"""


def write_outside(sentinel, victim):
    return f"""import os, shutil
for path in ({str(sentinel)!r}, {str(victim)!r}):
    try:
        os.remove(path)
    except OSError:
        pass
for path in ({str(Path(victim).parent / 'planted.txt')!r}, '/work/planted.txt', '/tmp/planted.txt'):
    try:
        open(path, 'w').write('x')
    except OSError:
        pass"""


KILL_GROUP = "import os, signal\nos.killpg(0, signal.SIGKILL)"
EXIT = "import os\nos._exit(3)"
RECURSION = "import sys\nsys.setrecursionlimit(10**8)\nnest = []\nfor _ in range(10**6):\n    nest = [nest]\nstr(nest)"
LOOP = "while True:\n    pass"
IGNORE_ALARM = ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nsignal.signal(signal.SIGINT, "
                "signal.SIG_IGN)\nwhile True:\n    pass")
MEMORY = "hog = bytearray(8 * 2**30)"
FLOOD_PRINT = "for _ in range(300):\n    print('x' * 10000)"
FLOOD_DISPLAY = ("from IPython.display import display\n"
                 "for i in range(600):\n    display({'text/plain': 'y' * 2000}, raw=True)")
FORK_BOMB = """import os, time
children = 0
try:
    while children < 400:
        if os.fork() == 0:
            time.sleep(1000)
            os._exit(0)
        children += 1
finally:
    pass"""
DAEMON_MARK = "workbook-daemon-left-behind"
DAEMON = f"""import subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True: time.sleep(1)', {DAEMON_MARK!r}],
                 start_new_session=True)"""
FORGED = f"""from IPython.display import display
display({{{MIME!r}: {{'qid': ['tpu.a'], 'value': {{'float': '1'}}}}}}, raw=True)
display({{{MIME!r}: 'garbage'}}, raw=True)
display({{{MIME!r}: {{'qid': 'nope.q', 'value': {{'seq': 5}}}}}}, raw=True)"""
FORGED_CHANNEL = """import os
for fd in range(3, 20):
    try:
        os.write(fd, b'{"end": true}\\n{"record": 4, "payload": {"qid": "tpu.a"}}\\nnot json\\n')
    except OSError:
        pass"""
THREAD_LATER = """import threading, time, os
def later():
    time.sleep(3)
    for fd in range(3, 20):
        try:
            os.write(fd, b'{"done": 999}\\n')
        except OSError:
            pass
threading.Thread(target=later, daemon=False).start()"""
REDEFINE_CHECK = "check = lambda *a, **k: None"
SHADOW_ALIAS = "__workbook_check__ = lambda *a, **k: None"


def build(root, folder, key, sentinel):
    """Write the class under ``folder`` (``folder/class``, ``folder/late``); return the expected rows.

    ``sentinel`` is a file outside the class that no submission may touch.
    Returns ``{(student, notebook): (status, score)}``.
    """
    r08, r04 = Release(root, NB08), Release(root, NB04)
    subs, expected = {}, {}
    f08, f04 = r08.points(key, {i for i, *_ in r08.answers}), r04.points(key, {i for i, *_ in r04.answers})
    first08, last08 = r08.points(key, {r08.first}), r08.points(key, {r08.last})
    first04 = r04.points(key, {r04.first})

    def add(student, name, nb, status, score, where="class", filename=None):
        subs[where, student, filename or name] = nb if isinstance(nb, (str, bytes)) else json.dumps(nb, indent=1)
        if status is not None:
            expected[student, name] = (status, score)

    victim = Path(folder) / "class" / "h_perfect" / NB08
    w08, w04 = r08.worked(), r04.worked()
    # honest students
    add("h_perfect", NB08, w08, "ok", f08)
    add("h_perfect", NB04, w04, "ok", f04)
    add("h_blank", NB08, r08.student, "ok", 0)
    add("h_blank", NB04, r04.student, "ok", 0)
    checked = r08.answers[0][1][-1].split("=")[0].strip()            # the variable the first check reads
    add("h_partial", NB08, r08.worked({r08.first: r08.answers[0][2] + [f"{checked} = 0.5"]}), "ok", f08 - first08)
    add("h_noids_note", NB08, _insert(_without_ids(w08), 3, "markdown", "My note: the array is 256 wide."), "ok", f08)
    deleted = _without_ids(w08)
    del deleted["cells"][next(i for i, c in enumerate(deleted["cells"]) if c["cell_type"] == "markdown" and i > 1)]
    add("h_noids_deleted_md", NB08, deleted, "ok", f08)
    pasted = copy.deepcopy(w08)
    for n, cell in enumerate(pasted["cells"]):
        cell["id"] = f"fresh{n:03d}"
    add("h_pasted_scratch", NB08, _insert(pasted, 5, "code", "scratch = 256 * 256\nscratch"), "ok", f08)
    name = r08.answers[0][1][-1].split("=")[0].strip()
    helper = r08.worked({r08.first: r08.answers[0][2] + [f"{name} = same({name})"]})
    define = "def same(x):\n    return (x * 2) / 2"
    add("h_helper_cell", NB08, _insert(helper, r08.first, "code", define), "ok", f08)
    add("h_helper_noids", NB08, _without_ids(_insert(helper, r08.first, "code", define)), "ok", f08)
    swapped = copy.deepcopy(w08)
    a, b = r08.answers[0][0], r08.answers[1][0]                        # two independent answer cells
    swapped["cells"][a], swapped["cells"][b] = swapped["cells"][b], swapped["cells"][a]
    add("h_reordered", NB08, swapped, "ok", f08)
    add("h_numpy", NB08, r08.worked({i: w + ["import numpy as np"] + [f"{v} = np.float64({v})" for v in
                                                                       (s.split("=")[0].strip() for s in stubs)]
                                     for i, stubs, w, _ in r08.answers if all("=" in s for s in stubs)}), "ok", f08)
    crlf = copy.deepcopy(w08)
    for cell in crlf["cells"]:
        cell["source"] = [line + "\r\n" for line in _text(cell["source"]).split("\n")]
    add("h_crlf", NB08, crlf, "ok", f08)
    outputs = copy.deepcopy(w08)
    for cell in outputs["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "display_data", "metadata": {},
                                "data": {MIME: {"qid": "tpu.a", "value": {"float": "0.5"}}, "text/plain": "x"}}]
            cell["execution_count"] = 1
    add("h_outputs_stored", NB08, outputs, "ok", f08)
    given = copy.deepcopy(w08)
    for cell in given["cells"]:
        if cell["cell_type"] == "code" and "import" in _text(cell["source"]):
            cell["source"] = _text(cell["source"]) + "\nimport this_module_does_not_exist"
            break
    add("h_edited_locked", NB08, given, "ok", f08)
    add("h_renamed", NB08, w08, "ok", f08, filename="08-tpu-utilisation (1).ipynb")
    add("h_resubmit", NB08, r08.student, None, None)
    add("h_resubmit", NB08, w08, "ok", f08, where="late")
    twin = _insert(w08, 3, "markdown", "Worked alone.")
    add("h_twin_a", NB08, w08, "ok", f08)
    add("h_twin_b", NB08, twin, "ok", f08)
    same = json.dumps(r08.worked({r08.first: ["util_a = 0.25"]}), indent=1)
    add("h_copy_a", NB08, same, "ok", f08 - first08)
    add("h_copy_b", NB08, same, "ok", f08 - first08)
    add("h_only_04", NB04, _without_ids(w04), "ok", f04)
    expected["h_only_04", NB08] = ("missing", 0)
    add("h_numpy_tuple", NB04, r04.worked({i: w + [f"{s.split('=')[0].strip()} = __import__('numpy').array("
                                                 f"{s.split('=')[0].strip()})" for s in stubs
                                                 if "pad_f4" in s or "final_map" in s]
                                          for i, stubs, w, _ in r04.answers}), "ok", f04)
    add("h_invalid", NB08, "{this is not json", "invalid", 0)
    add("h_wrong_notebook", NB08, json.dumps(w04), "wrong-notebook", 0)
    add("h_empty", NB08, json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), "empty", 0)
    odd = copy.deepcopy(w08)
    odd["cells"].append({"source": 42})
    odd["cells"].append({"cell_type": "code", "source": 7, "outputs": []})
    add("h_odd_cells", NB08, odd, "ok", f08)
    # hostile students: reading the instructor's files, by every route
    for student, attack in (("x_read_solutions", READ_SOLUTIONS), ("x_read_tests", READ_TESTS),
                            ("x_fd_relative", FD_RELATIVE), ("x_proc_escape", PROC_ESCAPE),
                            ("x_disarm_guard", DISARM_GUARD), ("x_native_open", NATIVE_OPEN),
                            ("x_native_syscall", NATIVE_SYSCALL), ("x_network", NETWORK), ("x_setuid", SETUID),
                            ("x_key_search", KEY_SEARCH)):
        add(student, NB08, _with_attack(r08, r08.first, attack), "error", f08 - first08)
    add("x_read_solutions", NB04, _with_attack(r04, r04.first, READ_SOLUTIONS), "error", f04 - first04)
    add("x_write_outside", NB08, _insert(w08, 3, "code", write_outside(sentinel, victim)), "ok", f08)
    add("x_redefine_check", NB08, _with_attack(r08, r08.first, REDEFINE_CHECK), "ok", f08)
    add("x_shadow_alias", NB08, _with_attack(r08, r08.first, SHADOW_ALIAS), "ok", 0)   # harms only itself
    add("x_forged_display", NB08, _insert(w08, 3, "code", FORGED), "ok", f08)
    add("x_forged_channel", NB08, _insert(w08, 3, "code", FORGED_CHANNEL), "ok", f08)
    add("x_thread_later", NB08, _insert(w08, 3, "code", THREAD_LATER), "ok", f08)
    add("x_daemon", NB08, _insert(w08, 3, "code", DAEMON), "ok", f08)
    add("x_fork_bomb", NB08, _insert(w08, 3, "code", FORK_BOMB), "error", f08)
    # ... stopping, slowing or exhausting the grader
    add("x_loop", NB08, _with_attack(r08, r08.first, LOOP), "timeout", f08 - first08)
    add("x_ignore_alarm", NB08, _with_attack(r08, r08.last, IGNORE_ALARM), "timeout", f08 - last08)
    add("x_memory", NB08, _with_attack(r08, r08.first, MEMORY), "memory", f08 - first08)
    add("x_recursion", NB08, _with_attack(r08, r08.last, RECURSION), "killed", f08 - last08)
    add("x_exit", NB08, _with_attack(r08, r08.last, EXIT), "killed", f08 - last08)
    add("x_kill_group", NB08, _with_attack(r08, r08.last, KILL_GROUP), "killed", f08 - last08)
    add("x_flood_print", NB08, _with_attack(r08, r08.first, FLOOD_PRINT), "output-limit", f08)
    add("x_flood_display", NB08, _with_attack(r08, r08.first, FLOOD_DISPLAY), "output-limit", f08)
    add("x_flood_display", NB04, _with_attack(r04, r04.first, FLOOD_DISPLAY), "output-limit", f04)
    for (where, student, filename), text in subs.items():
        path = Path(folder) / where / student / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    (Path(folder) / "class" / "stray-08.ipynb").write_text(json.dumps(w08))
    for student in {s for _, s, _ in subs}:
        for name in (NB04, NB08):
            expected.setdefault((student, name), ("missing", 0))
    return expected
