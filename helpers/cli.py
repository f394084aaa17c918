"""Command line: ``python -m helpers SUBCOMMAND`` (``--help`` on each).

Subcommands are a stable interface that tests and instructors rely on. Bad
input gives one line on stderr and exit status 2, never a traceback.

Examples
--------
>>> main(["models"])  # doctest: +ELLIPSIS
alexnet ...
0
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

__all__ = ["main", "parse_shape"]


class UsageError(ValueError):
    """A user mistake: reported as one line."""


def parse_shape(text):
    """``"3x227x227"`` -> ``(3, 227, 227)``; ``"784"`` -> ``(784,)``.

    Examples
    --------
    >>> parse_shape("3x32x32")
    (3, 32, 32)
    >>> parse_shape("3x32")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: malformed --input '3x32': expected CxHxW (e.g. 3x224x224) or F, positive integers
    """
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) not in (1, 3) or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"malformed --input {text!r}: expected CxHxW (e.g. 3x224x224) or F, positive integers")
    return tuple(int(p) for p in parts)


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _cmd_models(args):
    from helpers import zoo
    width = max(map(len, zoo.names()))
    for name in zoo.names():
        e = zoo.entry(name)
        print(f"{name:<{width}}  {'x'.join(map(str, e.input_shape)):<11}  {e.description}")
    return 0


def _cmd_summary(args):
    from helpers.summaries import summary
    s = summary(args.model, args.input, args.batch)
    print(json.dumps(s.to_dict()) if args.json else s)
    return 0


def _cmd_rf(args):
    from helpers import zoo
    from helpers.receptive import final_field, receptive_field
    model = zoo.get(args.model)
    fields, final = receptive_field(model), final_field(model)
    if args.json:
        print(json.dumps({"model": args.model,
                          "layers": [{"name": f.name, "kind": f.kind, "size": f.size,
                                      "stride": f.stride, "padding": f.padding} for f in fields],
                          "final": {"size": final.size, "stride": final.stride,
                                    "padding": final.padding}}))
        return 0
    width = max(len(f.name) for f in fields)
    print(f"{'layer':<{width}}  {'size':>6}  {'stride':>6}  {'padding':>7}")
    for f in (*fields, final):
        print(f"{f.name:<{width}}  {f.size!s:>6}  {f.stride!s:>6}  {f.padding!s:>7}")
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2)."""

    def error(self, message):
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _cmd_check(args):
    from helpers.answers.judge import judge, load_key, unknown_message
    key = load_key()
    if args.list is not None:
        return _list_questions(key, args.list)
    if args.qid is None or args.value is None:
        raise UsageError("give QID and VALUE, or --list [NOTEBOOK]")
    entry = key.get(args.qid)
    verdict = judge(args.qid, args.value, entry)
    if entry is None:
        verdict.message = unknown_message(args.qid, key)
    print(verdict.line(), file=sys.stderr if entry is None else sys.stdout)
    return {"correct": 0, "recorded": 0, "unknown": 2}.get(verdict.status, 1)


def _list_questions(key, notebook):
    """Print the question ids of every notebook, or of the one named (``08``, ``08-tpu-...``)."""
    by_notebook = {}
    for qid, entry in sorted(key.items()):
        by_notebook.setdefault(entry.get("notebook", "?"), []).append((qid, entry))
    wanted = Path(notebook).stem if notebook else ""
    names = [n for n in sorted(by_notebook) if n == wanted or n.split("-")[0] == wanted or not wanted]
    if not names:
        raise UsageError(f"no notebook {notebook!r} in the answer key; notebooks: "
                         + ", ".join(sorted(by_notebook)))
    for name in names:
        print(f"{name}:")
        for qid, entry in by_notebook[name]:
            print(f"  {qid}" + ("  (written answer, graded by hand)" if entry["kind"] == "manual" else ""))
    return 0


def _cmd_release(args):
    if args.out:
        from helpers.release.handout import package
        files = package(args.out, args.root)
        if args.assessment:
            from helpers.release.build import write_assessment_key
            write_assessment_key(args.out, args.root)
            print("assessment key: check() validates the form of answers only; grade with the full key "
                  f"in {args.root}")
        print(f"wrote the student hand-out to {args.out}: {len(files)} files, no solutions")
        return 0
    if args.assessment:
        raise ValueError("--assessment makes a hand-out: use it with --out DIR")
    from helpers.release.build import main as release_main
    return release_main(args)


def _cmd_html(args):
    from helpers.release.html import render_html
    for path in render_html(args.out, args.root, force=args.force):
        print(f"wrote {path}")
    return 0


def _cmd_bench(args):
    if args.pauses and (not args.train or args.no_torch or not all(0 <= w < math.inf for w in args.pauses)):
        print("--pauses takes seconds >= 0 and goes with --train (it times torch: not with --no-torch)",
              file=sys.stderr)
        return 2
    if args.train:
        from helpers.engine.train_bench import main as train_main
        args.batch = args.batch or [64, 128]
        return train_main(args)
    from helpers.engine.bench import main as bench_main
    args.batch = args.batch or [1, 8, 32]
    return bench_main(args)


def _cmd_grade(args):
    from helpers.grading.grade import main as grade_main
    return grade_main(args)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _parser():
    parser = _Parser(
        prog="python -m helpers", description="CNN Cost Workbook tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    p = sub.add_parser("models", help="list model names", description="List the zoo's models.")
    p.set_defaults(run=_cmd_models)

    p = sub.add_parser("summary", help="per-layer table and totals",
                       description="Per-layer output shape, parameters, MACs and activations.")
    p.add_argument("model", help="a name from 'python -m helpers models'")
    p.add_argument("--input", type=parse_shape, help="input shape CxHxW (default: the model's)")
    p.add_argument("--batch", type=_positive, default=1, help="batch size (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=_cmd_summary)

    p = sub.add_parser("rf", help="receptive field per layer and at the end",
                       description="Receptive field size, effective stride and padding.")
    p.add_argument("model", help="a name from 'python -m helpers models'")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_rf)

    p = sub.add_parser("check", help="judge an answer, as the notebooks' check() does",
                       description="Judge VALUE for question QID. Exit 0 correct, 1 not "
                                   "correct or blank, 2 unknown question id. With --list, "
                                   "print the question ids instead.")
    p.add_argument("qid", nargs="?", help="question id, e.g. tpu.a")
    p.add_argument("value", nargs="?", help="the answer: a number, a word, (1, 2), or a sympy "
                                            "expression such as 'F_r*F_c*N_i'")
    p.add_argument("--list", nargs="?", const="", metavar="NOTEBOOK",
                   help="print the question ids (of one notebook, e.g. 08 or 08-tpu-utilisation)")
    p.set_defaults(run=_cmd_check)

    from helpers.release.build import ROOT
    p = sub.add_parser("release", help="regenerate notebooks/ and the answer key from solutions/",
                       description="Execute changed solution notebooks, store their outputs, "
                                   "rebuild the answer key and the student notebooks.")
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 naming the files that differ from what "
                        "solutions/ generate")
    p.add_argument("--force", action="store_true", help="re-execute every solution notebook")
    p.add_argument("--out", type=Path, help="instead: write the student hand-out (notebooks, helpers, "
                                            "README, requirements; no solutions) into this new or empty "
                                            "folder (refused otherwise)")
    p.add_argument("--assessment", action="store_true", help="with --out: a hand-out for graded work, whose "
                   "key holds no digest of any answer (check() only validates the form)")
    p.add_argument("--root", type=Path, default=ROOT, help="project folder (default: %(default)s)")
    p.set_defaults(run=_cmd_release)

    p = sub.add_parser("bench", help="time the numpy engine per layer (and torch, if installed)",
                       description="Time the numpy inference engine layer by layer, with "
                                   "GFLOP/s, share of this machine's GEMM peak and peak memory; "
                                   "side by side with PyTorch when it is importable.")
    p.add_argument("model", help="a name from 'python -m helpers models'")
    p.add_argument("--batch", type=_positive, nargs="+", help="batch sizes (default 1 8 32; 64 128 with --train)")
    p.add_argument("--repeats", type=_positive, default=7,
                   help="profiled runs per batch, and torch's per-layer runs (median); with --train, timed "
                        "steps without torch, and with --pauses, rounds per pause. The side-by-side "
                        "comparison with torch runs --rounds rounds")
    p.add_argument("--warmup", type=_positive, default=2, help="untimed runs first")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--rounds", type=_positive, default=5,
                   help="rounds side by side with PyTorch (each: a pause, one untimed and 5 timed runs of each "
                        "contestant); engine/torch is the median of the rounds' ratios (default 5)")
    p.add_argument("--train", action="store_true",
                   help="time a training step (forward, backward, SGD update) instead of inference")
    p.add_argument("--pauses", type=float, nargs="+", metavar="SECONDS",
                   help="with --train: time torch's steps right after the engine's, after each pause "
                        "(at the first --batch size, default 64)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_bench)

    p = sub.add_parser("grade", help="grade a class's notebooks (CSV, feedback, summary)",
                       description="Restore, run and grade submitted notebooks: PATH is a class "
                                   "folder (one folder per student) or a student folder.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="class or student folders")
    p.add_argument("--out", help="the CSV of grades to write (required unless --benchmark)")
    p.add_argument("--feedback", help="folder for one Markdown and HTML feedback file per student")
    p.add_argument("--jobs", type=_positive, default=1, help="notebooks graded at once (default 1)")
    p.add_argument("--timeout", type=_positive_float, default=300,
                   help="wall-time bound of one notebook, sandbox included, in seconds (default 300)")
    p.add_argument("--cell-timeout", type=_positive_float, default=60, help="seconds per cell (default 60)")
    p.add_argument("--memory", default="2G", help="memory limit per kernel, e.g. 2G (default)")
    p.add_argument("--root", type=Path, default=ROOT, help="project folder with notebooks/ and the key")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--benchmark", type=_positive, metavar="N",
                   help="instead: grade N copies of a worked notebook and report the throughput")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs (--out, --feedback, ...)")
    p.add_argument("--format", choices=("csv", "canvas"), default="csv",
                   help="canvas: also write OUT.canvas.csv, a Canvas gradebook import")
    p.add_argument("--review", metavar="DIR", help="write DIR/review.html and DIR/points.csv for the "
                   "answers graded by hand")
    p.add_argument("--merge", metavar="POINTS_CSV", help="fold a filled points sheet into the grades and feedback")
    p.add_argument("--notebooks", nargs="+", metavar="NAME",
                   help="the notebooks every student must submit (default: those anyone submitted)")
    p.add_argument("--key", type=Path, help="the instructor's key (default: the project's full key)")
    p.set_defaults(run=_cmd_grade)

    p = sub.add_parser("html", help="render the solutions to self-contained HTML",
                       description="Render every solution notebook to one HTML file with embedded "
                                   "images and MathML formulas (readable offline), and an "
                                   "index.html linking them.")
    p.add_argument("--out", type=Path, default=Path("build/html"), help="folder (default build/html)")
    p.add_argument("--force", action="store_true",
                   help="write even if the folder holds other files (they are left alone)")
    p.add_argument("--root", type=Path, default=ROOT, help="project folder")
    p.set_defaults(run=_cmd_html)
    return parser


def main(argv=None):
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, KeyError, OSError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0
