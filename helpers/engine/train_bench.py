"""``python -m helpers bench MODEL --train``: time a training step against PyTorch.

A step is forward (batch norm on batch statistics), softmax cross-entropy,
backward and an SGD update (momentum 0.9, weight decay 5e-4). The engine and,
when ``torch`` is importable, PyTorch train the same network from the same
weights on the same batch. They take turns for ``--rounds`` rounds (:func:`helpers.engine.turns.in_turns`:
a pause, so that the other's spinning threads have gone to sleep, then a few steps
each), so that both see the same machine load; engine/torch is the median of the rounds'
ratios (:func:`helpers.engine.turns.round_ratios`), shown with their range.
PyTorch runs twice: on its default threads, and on one thread (on a loaded machine
its thread team can lose far more than it gains). Times on a shared machine are noisy: read the ratios of one run,
not absolute times across runs.
"""

from __future__ import annotations

import statistics
import sys

import numpy as np

from helpers import zoo
from helpers.engine import bench, torch_bridge, train, turns
from helpers.engine.buffers import retain_freed_memory
from helpers.engine.fit import init_params
from helpers.engine.optim import SGD
from helpers.formulas import flops
from helpers.model import trace

__all__ = ["format_pauses", "format_text", "main", "pauses", "run"]

LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4


def _engine_step(model, params, x, labels):
    sgd = SGD(LR, MOMENTUM, WEIGHT_DECAY)

    def step():
        result = train.gradients(model, params, x, labels)
        sgd.step(params, result.grads)
        return result.loss
    return step


def _torch_step(model, params, shape, x, labels, threads=None):
    """A PyTorch step; with ``threads``, torch runs it on that many threads (then restores)."""
    import torch
    module, _ = torch_bridge.trainable(model, params, shape)
    opt = torch.optim.SGD(module.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)

    def step():
        before = torch.get_num_threads()
        torch.set_num_threads(threads or before)
        try:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(xt), yt)
            loss.backward()
            opt.step()
            return loss.item()
        finally:
            torch.set_num_threads(before)
    return step


def _network(model_name):
    """``(model, input shape)`` of a zoo model, freed memory kept for reuse from now on
    (:func:`helpers.engine.buffers.retain_freed_memory`, for torch too)."""
    retain_freed_memory()
    entry = zoo.entry(model_name)
    return entry.build(), entry.input_shape


def _steps(model, shape, batch, with_torch):
    """``(x, labels, {"engine": step, "torch": step})``: a seeded batch and a training step
    of each on it, from the same seeded weights (torch only ``with_torch``)."""
    x = bench.random_batch(batch, shape)
    labels = np.random.default_rng(batch).integers(0, trace(model, shape)[-1][3][0], batch)
    steps = {"engine": _engine_step(model, init_params(model, shape, seed=0), x, labels)}
    if with_torch:
        steps["torch"] = _torch_step(model, init_params(model, shape, seed=0), shape, x, labels)
    return x, labels, steps


def run(model_name, batches=(64, 128), repeats=7, warmup=2, use_torch=True, log=None, rounds=5):
    """Time training steps of ``model_name`` (``rounds`` rounds of turns; ``repeats`` is
    the number of timed steps without torch); returns the JSON-able report. Freed memory
    is kept for reuse (:func:`helpers.engine.buffers.retain_freed_memory`), for torch too."""
    model, shape = _network(model_name)
    results = []
    for batch in sorted(set(batches)):
        if log:
            log(f"batch {batch} ...")
        x, labels, steps = _steps(model, shape, batch, use_torch and torch_bridge.available())
        if "torch" in steps:
            steps["torch_1thread"] = _torch_step(model, init_params(model, shape, seed=0), shape, x, labels, 1)
        first = {name: step() for name, step in steps.items()}      # same weights: same loss
        for _ in range(warmup - 1):
            for step in steps.values():
                step()
        times, _ = turns.in_turns(steps, rounds * turns.TURN if "torch" in steps else repeats)
        forward, backward = train.analytic_macs(model, shape, batch)
        engine_s = statistics.median(times["engine"])
        result = {"batch": batch, "engine_ms": round(1e3 * engine_s, 2), "torch_ms": None,
                  "forward_macs": forward, "backward_macs": backward,
                  "engine_gflops": round(flops(forward + backward) / engine_s / 1e9, 2),
                  "first_loss": first["engine"]}
        if "torch" in steps:
            torch_s, single_s = statistics.median(times["torch"]), statistics.median(times["torch_1thread"])
            ratios = {name: turns.round_ratios(times, "engine", [name]) for name in ("torch", "torch_1thread")}
            result.update(torch_ms=round(1e3 * torch_s, 2),
                          engine_over_torch=round(statistics.median(ratios["torch"]), 3),
                          engine_over_torch_rounds=[round(r, 3) for r in ratios["torch"]],
                          torch_1thread_ms=round(1e3 * single_s, 2),
                          engine_over_torch_1thread=round(statistics.median(ratios["torch_1thread"]), 3),
                          engine_over_torch_1thread_rounds=[round(r, 3) for r in ratios["torch_1thread"]],
                          first_loss_torch=first["torch"])
        results.append(result)
    return {"model": model_name, "input": list(shape), "env": bench.environment(), "results": results}


def format_text(report):
    """The human-readable form of a :func:`run` report."""
    env = report["env"]
    lines = [f"{report['model']} training step (forward, backward, SGD update) on "
             f"{'x'.join(map(str, report['input']))}: numpy {env['numpy']}, {env['blas_threads']} BLAS threads, "
             f"{env['cpus']} CPUs" + (f", torch {env['torch']} ({env['torch_threads']} threads)"
                                      if "torch" in env else ", torch not installed")]
    for r in report["results"]:
        line = (f"batch {r['batch']}: engine {r['engine_ms']:,.1f} ms ({r['engine_gflops']:.1f} GFLOP/s over "
                f"{r['forward_macs'] + r['backward_macs']:,} MACs)")
        if r["torch_ms"]:
            line += (f"\n  torch {r['torch_ms']:,.1f} ms (engine/torch {r['engine_over_torch']:.2f}, "
                     f"{bench.rounds_text(r['engine_over_torch_rounds'])}),"
                     f" torch on 1 thread {r['torch_1thread_ms']:,.1f} ms"
                     f" (engine/torch {r['engine_over_torch_1thread']:.2f}, "
                     f"{bench.rounds_text(r['engine_over_torch_1thread_rounds'])});"
                     f" first loss {r['first_loss']:.5f} engine, {r['first_loss_torch']:.5f} torch")
        lines.append(line)
    return "\n".join(lines)


def pauses(model_name, batch, waits, repeats=5):
    """Torch's training step made each of ``waits`` seconds after the engine's, and the
    steps after it (:func:`helpers.engine.turns.after_pause`): ``{wait: [ms, ...]}``."""
    model, shape = _network(model_name)
    _, _, steps = _steps(model, shape, batch, True)
    engine, torch_step = steps["engine"], steps["torch"]
    for _ in range(2):
        engine(), torch_step()
    return {wait: [round(1e3 * t, 2) for t in turns.after_pause(engine, torch_step, wait, repeats=repeats)]
            for wait in waits}


def format_pauses(model_name, batch, report):
    """The text of a :func:`pauses` report."""
    lines = [f"{model_name} batch {batch}: torch's training steps (ms) after the engine's step and a pause"]
    for wait, ms in report.items():
        lines.append(f"  pause {wait:g} s: first step {ms[0]:.1f}, then " + ", ".join(f"{t:.1f}" for t in ms[1:])
                     + f" (first / last {ms[0] / ms[-1]:.2f})")
    return "\n".join(lines)


def main(args):
    """Entry point for ``bench MODEL --train`` (and ``--pauses``)."""
    if getattr(args, "pauses", None):
        if not torch_bridge.available():
            print("--pauses needs torch, which is not installed", file=sys.stderr)
            return 1
        batch = args.batch[0]
        report = pauses(args.model, batch, args.pauses, args.repeats)
        if args.json:
            import json
            print(json.dumps({"model": args.model, "batch": batch, "torch_step_ms_after_pause": report}))
        else:
            print(format_pauses(args.model, batch, report))
        return 0
    return bench.print_report(run, format_text, args)
