"""``python -m helpers bench MODEL``: time the numpy engine layer by layer.

For each batch size (run in ascending order): the median time of every layer
over ``--repeats`` profiled runs after ``--warmup`` runs, its MACs, achieved
GFLOP/s and share of this process's float32 GEMM peak; the median end-to-end
time; the peak resident memory next to its budget: weights + the activation
buffers the engine holds (shown beside the two largest activations, the least
a chain of layers needs) + its workspaces and cached derived weights + the
interpreter's baseline (measured before the weights are built). Nothing else
is deducted: the input batch, the BLAS's buffers and malloc's slack all count
against the engine.
If ``torch`` is importable, the same network with the same weights runs side
by side in both of torch's memory formats (NCHW and channels-last): the engine
and the two torch modules take turns for ``--rounds`` rounds (:func:`helpers.engine.turns.in_turns`:
a pause, an untimed run, then a few timed ones each), so that a change in the machine's load
hits all three alike and none runs beside another's spinning threads; engine/torch is the
median over the rounds of the engine's time over the faster torch module's in the same round
(:func:`helpers.engine.turns.round_ratios`), shown with the rounds' range. The
outputs are compared and torch's layers timed with hooks in runs of their own.
Times are noisy on shared machines: read the ratios of one run, not absolute
numbers across runs.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

from helpers import engine, zoo
from helpers.engine import kernels, threads, torch_bridge, turns, winograd
from helpers.engine.buffers import DTYPE, POOL, release_workspace
from helpers.formulas import flops
from helpers.summaries import summary

__all__ = ["copy_bandwidth", "environment", "format_text", "gemm_peak", "random_batch", "rounds_text", "run",
           "time_forward"]


def environment():
    """BLAS library, thread counts and the environment variables that change timings."""
    library = "unknown"
    try:
        config = np.__config__.CONFIG["Build Dependencies"]["blas"]
        library = f"{config.get('name')} {config.get('version')}"
    except (AttributeError, KeyError, TypeError):
        pass
    env = {"numpy": np.__version__, "blas": library, "cpus": os.cpu_count(),
           "blas_threads": threads.threads(),
           "variables": {k: v for k, v in sorted(os.environ.items())
                         if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO"))}}
    if torch_bridge.available():
        import torch
        env["torch"], env["torch_threads"] = torch.__version__, torch.get_num_threads()
    return env


def gemm_peak(n=2048, repeats=5):
    """float32 GEMM throughput (GFLOP/s) of ``n x n`` products, median of ``repeats``."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, a, out=out)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def copy_bandwidth(nbytes=2**28, repeats=5):
    """Memory bandwidth (bytes/s) of a large array copy: each byte read once, written once."""
    src = np.ones(nbytes // DTYPE.itemsize, dtype=DTYPE)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - start)
    return 2 * src.nbytes / statistics.median(times)


def time_forward(model, params, x, repeats=3, warmup=1):
    """Median wall time (ms) of ``engine.forward(model, params, x)`` after ``warmup`` runs."""
    for _ in range(warmup):
        engine.forward(model, params, x)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine.forward(model, params, x)
        runs.append(time.perf_counter() - start)
    return 1e3 * statistics.median(runs)


def maxrss_mib(maxrss, platform=sys.platform):
    """``getrusage``'s ``ru_maxrss`` in MiB: Linux reports KiB, macOS bytes.

    Examples
    --------
    >>> maxrss_mib(2048, "linux"), maxrss_mib(2 * 2**20, "darwin")
    (2.0, 2.0)
    """
    return maxrss / 2**20 if platform == "darwin" else maxrss / 2**10


def _rss_mib():
    """Peak resident memory of this process so far (MiB); None where there is no
    ``resource`` module (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    return maxrss_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _current_rss_mib():
    """Resident memory now (MiB), from /proc; the peak if /proc is not there."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return _rss_mib()


def _torch_modules(model, params, shape):
    """The model in torch with the engine's weights, in both memory formats:
    ``{"nchw": (module, leaves), "channels_last": (module, leaves)}``."""
    import torch
    made = {}
    for layout in ("nchw", "channels_last"):
        leaves = {}
        module = torch_bridge.to_torch(model, params, shape, leaves=leaves)
        if layout == "channels_last":
            module = module.to(memory_format=torch.channels_last)
        made[layout] = (module, leaves)
    return made


def _torch_input(x, layout):
    import torch
    xt = torch.from_numpy(x)
    return xt.contiguous(memory_format=torch.channels_last) if layout == "channels_last" and xt.ndim == 4 else xt


def _side_by_side(model, params, x, modules, rounds):
    """Median end-to-end times (ms) of the engine and of each torch module, timed in
    ``rounds`` rounds of turns (:func:`helpers.engine.turns.in_turns`: engine, torch NCHW, torch
    channels-last, engine, ...); the engine's time over the faster torch module's, one ratio per
    round (:func:`helpers.engine.turns.round_ratios`); and every contestant's last output (the
    engine's from an unprofiled pass, the one timed)."""
    import torch
    runs = {"engine": lambda: engine.forward(model, params, x)}
    inputs = {layout: _torch_input(x, layout) for layout in modules}
    for layout, (module, _) in modules.items():
        runs[layout] = lambda m=module, xt=inputs[layout]: m(xt)
    with torch.inference_mode():
        times, outputs = turns.in_turns(runs, rounds * turns.TURN)
    return ({name: 1e3 * statistics.median(t) for name, t in times.items()},
            turns.round_ratios(times, "engine", list(modules)),
            {name: np.asarray(out) for name, out in outputs.items()})


def _torch_leaf_times(module, leaves, xt, repeats):
    """Median time (ms) of every leaf of a torch module, timed with hooks (in runs of
    their own: the hooks' overhead stays out of the end-to-end times)."""
    import torch
    stamps, per_leaf, handles = {}, {name: [] for name in leaves}, []
    for name, leaf in leaves.items():
        handles += [leaf.register_forward_pre_hook(lambda *_, n=name: stamps.__setitem__(n, time.perf_counter())),
                    leaf.register_forward_hook(lambda *_, n=name: per_leaf[n].append(time.perf_counter() - stamps[n]))]
    with torch.inference_mode():
        for _ in range(repeats):
            module(xt)
    for h in handles:
        h.remove()
    return {n: 1e3 * statistics.median(t) for n, t in per_leaf.items()}


def random_batch(batch, shape):
    """A float32 batch of standard normal values, seeded by its size (so that the torch
    side of a benchmark, or a second run, sees the same one).

    >>> random_batch(2, (3, 4, 4)).shape
    (2, 3, 4, 4)
    """
    return np.random.default_rng(batch).standard_normal((batch, *shape), dtype=np.float32)


def run(model_name, batches=(1, 8, 32), repeats=7, warmup=2, use_torch=True, log=None, rounds=5):
    """Benchmark ``model_name``; returns the JSON-able result of ``bench --json``: ``repeats``
    profiled passes per batch, and ``rounds`` rounds side by side with torch."""
    entry = zoo.entry(model_name)
    model, shape = entry.build(), entry.input_shape
    peak = gemm_peak()
    release_workspace()
    baseline = _current_rss_mib()
    params = engine.init_params(model, shape, seed=0)
    results = []
    for batch in sorted(set(batches)):
        if log:
            log(f"batch {batch} ...")
        s = summary(model_name, batch=batch)
        x = random_batch(batch, shape)
        for _ in range(warmup):
            engine.forward(model, params, x)
        totals, profiles = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            y, layer_times = engine.forward(model, params, x, profile=True)
            totals.append(time.perf_counter() - start)
            profiles.append(layer_times)
        rss = _rss_mib()
        measured = rss is not None and baseline is not None
        layers = []
        for i, row in enumerate(s.rows):
            ms = statistics.median(p[i].ms for p in profiles)
            gflops = flops(row.macs) / (ms / 1e3) / 1e9 if ms > 0 else 0.0
            layers.append({"name": row.name, "kind": row.kind, "ms": round(ms, 3), "macs": row.macs,
                           "gflops": round(gflops, 1), "peak_share": round(gflops / peak, 3),
                           "bytes": profiles[-1][i].bytes})
        workspace, activations = kernels.workspace_bytes() + winograd.cache_bytes(), POOL.held_bytes()
        two_largest = sum(sorted((r.activations * DTYPE.itemsize for r in s.rows), reverse=True)[:2])
        budget = (s.weight_bytes() + activations + workspace) / 2**20
        results.append({"batch": batch, "engine_ms": round(1e3 * statistics.median(totals), 2),
                        "torch_ms": None, "gemm_peak_gflops": round(peak, 1),
                        "peak_rss_mib": round(rss, 1) if measured else None,
                        "baseline_rss_mib": round(baseline, 1) if measured else None,
                        "workspace_mib": round(workspace / 2**20, 1),
                        "activation_buffers_mib": round(activations / 2**20, 1),
                        "two_largest_activations_mib": round(two_largest / 2**20, 1),
                        "rss_ratio": round((rss - baseline) / max(budget, 1e-9), 3) if measured else None,
                        "rss_budget_mib": round(budget + baseline, 1) if measured else None,
                        "layers": layers})
        del x, y          # the next batch's peak should not include this one's input or output
    if use_torch and torch_bridge.available():
        modules = _torch_modules(model, params, shape)
        for result in results:
            x = random_batch(result["batch"], shape)
            ms, ratios, outputs = _side_by_side(model, params, x, modules, rounds)
            result.update({"engine_side_ms": round(ms["engine"], 2), "torch_ms": round(ms["nchw"], 2),
                           "torch_cl_ms": round(ms["channels_last"], 2),
                           "engine_over_torch": round(statistics.median(ratios), 3),
                           "engine_over_torch_rounds": [round(r, 3) for r in ratios],
                           "max_rel_error": max(float(np.abs(outputs["engine"] - ty).max() / (np.abs(ty).max() or 1))
                                                for name, ty in outputs.items() if name != "engine")})
            for layout, key in (("nchw", "torch_ms"), ("channels_last", "torch_cl_ms")):
                module, leaves = modules[layout]
                per_leaf = _torch_leaf_times(module, leaves, _torch_input(x, layout), repeats)
                for layer in result["layers"]:
                    layer[key] = round(per_leaf[layer["name"]], 3)
    return {"model": model_name, "env": environment(), "results": results}


def _memory_text(r):
    """The memory part of a batch line of :func:`format_text`."""
    if r["peak_rss_mib"] is None:
        return "peak RSS not measured (no getrusage or /proc on this platform)"
    return (f"peak RSS {r['peak_rss_mib']:,.0f} MiB "
            f"(budget {r['rss_budget_mib']:,.0f} MiB = weights + {r['activation_buffers_mib']:,.0f} MiB "
            f"activation buffers (two largest activations: {r['two_largest_activations_mib']:,.0f} MiB) + "
            f"{r['workspace_mib']:,.0f} MiB workspace and cached derived weights + "
            f"{r['baseline_rss_mib']:,.0f} MiB baseline; ratio {r['rss_ratio']:.2f})")


def rounds_text(ratios):
    """How a median of per-round ratios was made.

    >>> rounds_text([0.9, 1.1, 1.0]), rounds_text([0.97])
    ('median of 3 rounds, 0.90-1.10', '1 round')
    """
    if len(ratios) == 1:
        return "1 round"
    return f"median of {len(ratios)} rounds, {min(ratios):.2f}-{max(ratios):.2f}"


def format_text(report):
    """The human-readable form of a :func:`run` report."""
    env = report["env"]
    lines = [f"{report['model']}: numpy {env['numpy']}, BLAS {env['blas']}, {env['blas_threads']} BLAS "
             f"threads, {env['cpus']} CPUs, variables {env['variables'] or 'none'}"
             + (f", torch {env['torch']} ({env['torch_threads']} threads)"
                if "torch" in env else ", torch not installed")]
    for r in report["results"]:
        torch_part = (f"\n  side by side, in turns: engine {r['engine_side_ms']:,.1f} ms, "
                      f"torch {r['torch_ms']:,.1f} ms "
                      f"(NCHW) / {r['torch_cl_ms']:,.1f} ms (channels-last); engine/faster torch "
                      f"{r['engine_over_torch']:.2f} ({rounds_text(r['engine_over_torch_rounds'])}); "
                      f"max rel. error {r['max_rel_error']:.1e}" if r["torch_ms"] else "")
        lines += ["", f"batch {r['batch']}: engine {r['engine_ms']:,.1f} ms (profiled){torch_part}",
                  f"  GEMM peak {r['gemm_peak_gflops']:.0f} GFLOP/s; " + _memory_text(r),
                  f"  {'layer':<24}{'ms':>9}{'MACs':>16}{'GFLOP/s':>9}{'of peak':>9}"
                  + ("   torch ms    cl ms" if r["torch_ms"] else "")]
        for layer in r["layers"]:
            if layer["ms"] >= 0.05 or layer["macs"] or layer.get("torch_ms", 0) >= 0.05:
                extra = f"{layer['torch_ms']:>11.2f}{layer['torch_cl_ms']:>9.2f}" if "torch_ms" in layer else ""
                lines.append(f"  {layer['name']:<24}{layer['ms']:>9.2f}{layer['macs']:>16,}"
                             f"{layer['gflops']:>9.0f}{layer['peak_share']:>8.0%}{extra}")
    return "\n".join(lines)


def print_report(run_report, format_report, args):
    """Run a benchmark for the CLI (progress on stderr) and print its JSON or text form."""
    report = run_report(args.model, args.batch, args.repeats, args.warmup, not args.no_torch,
                        log=lambda m: print(m, file=sys.stderr) if not args.json else None, rounds=args.rounds)
    if args.json:
        import json
        print(json.dumps(report))
    else:
        print(format_report(report))
    return 0


def main(args):
    """Entry point for the CLI subcommand."""
    return print_report(run, format_text, args)
