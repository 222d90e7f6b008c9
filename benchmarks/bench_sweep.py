"""Vmapped ratio x seed pruning sweep vs a Python loop over pruned models (the official code's way).

    python benchmarks/bench_sweep.py [--quick] [--large-only | --small-only] [--repeats N]

Small case: both evaluate test accuracy/loss and train accuracy/loss of every (seed, removal
ratio) pair of global-magnitude-pruned digits MLPs (64-32-32-10). The loop builds each mask and
evaluates one model at a time, as the official code does: eagerly (op by op, like PyTorch's
eager mode: ``loop_seconds``), and, as a stricter baseline, with warm jitted functions
(``jitted_loop_seconds``). The sweep is one jitted call. Times are after compilation.

Large case (``large_*`` keys): an FC5-size MLP 784-1000-600-300-100-10 (D = 1 595 000 prunable
weights), 4 seeds trained for 50 full-batch Adam steps on a synthetic task (inputs (n, 784)
from a mixture of 10 Gaussians, labels 0..9; 1000 train and 1000 test examples), 100
removal ratios in [0, 1]. ``prune.sweep`` (its nested-mask route for MLPs: one sort per seed,
first-layer pre-activations of all ratios from cumulative corrections) against a PyTorch loop
over (seed, ratio) as in the official code: sort |w| of all prunable weights, threshold, mask a
copy of the model, evaluate test and train accuracy and loss under ``torch.no_grad()``
(``large_torch_seconds``); and, as a stricter baseline, the same loop sorting once per seed
(``large_torch_sorted_once_seconds``). Each is timed ``--repeats`` times in interleaved rounds
(ours warm, after compilation): median and spread (max - min), and each round's ratio. Without
torch the baselines are NumPy loops (``large_baseline`` says which). torch is a benchmark-only
dependency: ``pip install torch --index-url https://download.pytorch.org/whl/cpu``.

Last line: JSON (keys of a case that was not run are null).
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans.networks import data, nets, prune, train
from phasetrans.networks.problem import Problem

FC5 = (784, 1000, 600, 300, 100, 10)


def small_case(quick: bool) -> dict:
    num_ratios, num_seeds = (20, 4) if quick else (100, 8)
    ds = data.load("digits")
    net = nets.mlp([64, 32, 32, 10])
    params = train.train_seeds(net, ds, keys=jax.random.split(jax.random.key(0), num_seeds),
                               steps=300).params
    grid = np.linspace(0, 1, num_ratios)

    def run_sweep():
        out = prune.sweep(Problem.from_network(net, params, ds, l1=0.0), grid)
        jax.block_until_ready(out.test_accuracy)
        return out

    reference = run_sweep()  # compile
    start = time.perf_counter()
    run_sweep()
    seconds = time.perf_counter() - start

    def loop(jit: bool):
        wrap = jax.jit if jit else (lambda f: f)
        loss_fn = wrap(nets.cross_entropy(net.apply))
        acc_fn = wrap(lambda p, x, y: nets.accuracy(net.apply, p, x, y))
        mask_fn = wrap(prune.global_magnitude)
        acc = np.zeros((num_seeds, num_ratios))
        for s in range(num_seeds):
            seed_params = jax.tree_util.tree_map(lambda w, s=s: w[s], params)
            for j, p in enumerate(grid):
                pruned = prune.apply_mask(seed_params, mask_fn(seed_params, p))
                acc[s, j] = float(acc_fn(pruned, ds.x_test, ds.y_test))
                float(loss_fn(pruned, (ds.x_test, ds.y_test)))
                float(acc_fn(pruned, ds.x_train, ds.y_train))
                float(loss_fn(pruned, (ds.x_train, ds.y_train)))
        return acc

    def timed(fn):
        start = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - start

    loop(jit=True)  # compile
    jit_acc, jit_seconds = timed(lambda: loop(jit=True))
    eager_acc, loop_seconds = timed(lambda: loop(jit=False))
    agree = all(np.allclose(a, np.asarray(reference.test_accuracy), atol=1e-6)
                for a in (jit_acc, eager_acc))
    print(f"{num_ratios} ratios x {num_seeds} seeds: vmapped sweep {seconds:.3f} s; eager "
          f"Python loop (the official code's way) {loop_seconds:.3f} s = "
          f"{loop_seconds / seconds:.1f}x; loop of warm jitted calls {jit_seconds:.3f} s = "
          f"{jit_seconds / seconds:.1f}x; same accuracies: {agree}", flush=True)
    return {"ratios": num_ratios, "seeds": num_seeds, "seconds": seconds,
            "loop_seconds": loop_seconds, "speedup": loop_seconds / seconds,
            "jitted_loop_seconds": jit_seconds, "jitted_loop_speedup": jit_seconds / seconds}


def synthetic_task(num_train: int, num_test: int, *, key) -> data.Dataset:
    """Inputs (n, 784) from a mixture of 10 Gaussians (labels 0..9 uniform; x = 0.1 c_y + N(0,
    I) with random centres c_y ~ N(0, I): separable but not trivially so)."""
    k_y, k_noise, k_centres = jax.random.split(key, 3)
    num = num_train + num_test
    y = jax.random.randint(k_y, (num,), 0, FC5[-1]).astype(jnp.int32)
    centres = jax.random.normal(k_centres, (FC5[-1], FC5[0]))
    x = 0.1 * centres[y] + jax.random.normal(k_noise, (num, FC5[0]))
    return data.Dataset(x[:num_train], y[:num_train], x[num_train:], y[num_train:], FC5[-1],
                        "synthetic", (FC5[0],))


def removed_counts(grid, dim: int) -> np.ndarray:
    """floor(p D) in float32, the arithmetic of ``prune`` (so every loop removes the same count)."""
    return np.floor(np.asarray(grid, np.float32) * np.float32(dim) + np.float32(1e-6)).astype(
        np.int64)


def threshold_ties(params, grid) -> np.ndarray:
    """(S, P) bool: where the threshold mask |w| > (the floor(p D)-th smallest |w|) removes more
    than floor(p D) weights (ties at the threshold)."""
    num_seeds = params[0]["w"].shape[0]
    out = np.zeros((num_seeds, len(grid)), bool)
    for s in range(num_seeds):
        ranked = np.sort(np.concatenate([np.abs(layer["w"][s]).ravel() for layer in params]))
        counts = removed_counts(grid, ranked.size)
        for j, count in enumerate(counts):
            out[s, j] = count > 0 and np.searchsorted(ranked, ranked[count - 1], "right") > count
    return out


def torch_loop(params, ds, grid, *, sort_once: bool):
    """The official code's way in PyTorch: per (seed, ratio), sort |w| of all prunable weights
    (once per seed if ``sort_once``), threshold, mask a deep copy of the model, evaluate.
    Returns (S, P, 4) test accuracy, test loss, train accuracy, train loss."""
    import torch

    num_seeds = params[0]["w"].shape[0]
    dim = sum(int(np.prod(layer["w"].shape[1:])) for layer in params)
    counts = removed_counts(grid, dim)
    sets = [(torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y)).long())
            for x, y in ((ds.x_test, ds.y_test), (ds.x_train, ds.y_train))]
    out = np.zeros((num_seeds, len(grid), 4))
    with torch.no_grad():
        for s in range(num_seeds):
            layers = []
            for layer in params:  # torch.nn.Linear stores (out, in): x @ W^T
                linear = torch.nn.Linear(*layer["w"].shape[1:])
                linear.weight.copy_(torch.from_numpy(np.array(layer["w"][s]).T))
                linear.bias.copy_(torch.from_numpy(np.array(layer["b"][s])))
                layers += [linear, torch.nn.ReLU()]
            model = torch.nn.Sequential(*layers[:-1]).eval()
            linears = [m for m in model if isinstance(m, torch.nn.Linear)]

            def sorted_magnitudes(linears=linears):
                return torch.sort(torch.cat([m.weight.abs().flatten() for m in linears])).values

            ranked = sorted_magnitudes() if sort_once else None
            for j, count in enumerate(counts):
                if not sort_once:
                    ranked = sorted_magnitudes()
                pruned = copy.deepcopy(model)
                if count > 0:
                    threshold = ranked[count - 1]
                    for m in pruned:
                        if isinstance(m, torch.nn.Linear):
                            m.weight.mul_(m.weight.abs() > threshold)
                for k, (x, y) in enumerate(sets):
                    logits = pruned(x)
                    out[s, j, 2 * k] = (logits.argmax(1) == y).float().mean().item()
                    out[s, j, 2 * k + 1] = torch.nn.functional.cross_entropy(logits, y).item()
    return out


def numpy_loop(params, ds, grid, *, sort_once: bool):
    """``torch_loop`` in NumPy (the fallback when torch is not installed)."""
    num_seeds = params[0]["w"].shape[0]
    dim = sum(int(np.prod(layer["w"].shape[1:])) for layer in params)
    counts = removed_counts(grid, dim)
    sets = [(np.asarray(x), np.asarray(y)) for x, y in ((ds.x_test, ds.y_test),
                                                       (ds.x_train, ds.y_train))]
    out = np.zeros((num_seeds, len(grid), 4))
    for s in range(num_seeds):
        weights = [np.asarray(layer["w"][s]) for layer in params]
        biases = [np.asarray(layer["b"][s]) for layer in params]

        def sorted_magnitudes(weights=weights):
            return np.sort(np.concatenate([np.abs(w).ravel() for w in weights]))

        ranked = sorted_magnitudes() if sort_once else None
        for j, count in enumerate(counts):
            if not sort_once:
                ranked = sorted_magnitudes()
            threshold = ranked[count - 1] if count > 0 else -np.inf
            pruned = [w * (np.abs(w) > threshold) for w in weights]
            for k, (x, y) in enumerate(sets):
                h = x
                for w, b in zip(pruned[:-1], biases[:-1], strict=True):
                    h = np.maximum(h @ w + b, 0)
                logits = h @ pruned[-1] + biases[-1]
                shifted = logits - logits.max(1, keepdims=True)
                log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
                out[s, j, 2 * k] = np.mean(logits.argmax(1) == y)
                out[s, j, 2 * k + 1] = -np.mean(log_p[np.arange(len(y)), y])
    return out


def _loadavg() -> str | None:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return None


def _stats(times) -> tuple[float, float]:
    return float(np.median(times)), float(np.max(times) - np.min(times))


def large_case(quick: bool, repeats: int) -> dict:
    num_ratios, num_seeds = (10, 2) if quick else (100, 4)
    num_train = num_test = 1000
    net = nets.mlp(FC5)
    ds = synthetic_task(num_train, num_test, key=jax.random.key(1))
    start = time.perf_counter()
    params = train.train_seeds(net, ds, keys=jax.random.split(jax.random.key(2), num_seeds),
                               steps=50).params
    jax.block_until_ready(params)
    dim = prune.num_prunable(jax.tree_util.tree_map(lambda w: w[0], params))
    print(f"large case: MLP {'-'.join(map(str, FC5))}, D = {dim}, {num_seeds} seeds trained "
          f"50 steps in {time.perf_counter() - start:.1f} s; {num_ratios} ratios; "
          f"{num_train} train + {num_test} test synthetic examples", flush=True)
    grid = np.linspace(0, 1, num_ratios)

    def ours():
        out = prune.sweep(Problem.from_network(net, params, ds, l1=0.0), grid)
        jax.block_until_ready(out)
        return out

    start = time.perf_counter()
    result = ours()
    compile_seconds = time.perf_counter() - start
    print(f"  prune.sweep: first call (with compilation) {compile_seconds:.2f} s", flush=True)

    # the per-pair generic route (vmap over pairs, one sort per pair) on seed 0 x 10 ratios,
    # extrapolated to the whole grid: what vmap alone gives
    sub = jax.tree_util.tree_map(lambda w: w[:1], params)
    sub_grid, keys, frozen = prune._sweep_setup(net, sub, grid[:10], "global", None, None)

    def generic():
        out = prune._sweep(net, sub, prune._arrays(ds), sub_grid, "global", frozen, 0, 1e-3,
                           keys, prune.mesh_for(None))
        jax.block_until_ready(out)
        return out

    generic()
    start = time.perf_counter()
    generic_out = generic()
    generic_seconds = (time.perf_counter() - start) * num_seeds * num_ratios / sub_grid.shape[0]
    generic_same = bool(np.array_equal(np.asarray(generic_out.test_accuracy),
                                       np.asarray(result.test_accuracy[:1, :10])))
    print(f"  generic per-pair vmapped route, extrapolated from 1 seed x 10 ratios: "
          f"{generic_seconds:.1f} s (same accuracies: {generic_same})", flush=True)

    try:
        import torch
        baseline, loop = f"torch {torch.__version__} ({torch.get_num_threads()} threads)", \
            torch_loop
    except ImportError:
        baseline, loop = f"numpy {np.__version__} (torch not installed)", numpy_loop
    host_params = jax.tree_util.tree_map(np.asarray, params)
    # rounds interleave the three timings, so that each round's ratios compare runs made under
    # similar load (the machine may be shared)
    timings = {"ours": [], False: [], True: []}
    outputs, loads = {}, []
    for round_index in range(repeats):
        loads.append(_loadavg())
        start = time.perf_counter()
        ours()
        timings["ours"].append(time.perf_counter() - start)
        for sort_once in (False, True):
            start = time.perf_counter()
            outputs[sort_once] = loop(host_params, ds, grid, sort_once=sort_once)
            timings[sort_once].append(time.perf_counter() - start)
        print(f"  round {round_index + 1} (load average {loads[-1]}): prune.sweep "
              f"{timings['ours'][-1]:.2f} s; {baseline} loop sorting per pair "
              f"{timings[False][-1]:.2f} s, sorting once per seed {timings[True][-1]:.2f} s",
              flush=True)
    ours_times = timings["ours"]

    ours_metrics = np.stack([np.asarray(result.test_accuracy), np.asarray(result.test_loss),
                             np.asarray(result.train_accuracy), np.asarray(result.train_loss)],
                            axis=-1)
    reference = outputs[False]
    accuracy_diff = np.abs(ours_metrics[..., [0, 2]] - reference[..., [0, 2]])
    mismatches = int(np.sum(accuracy_diff > 1e-6))
    loss_abs = np.abs(ours_metrics[..., [1, 3]] - reference[..., [1, 3]])
    loss_rel = float(np.max(loss_abs / np.abs(reference[..., [1, 3]])))
    # the threshold mask removes every weight tied with the threshold: where that is more than
    # floor(p D), the networks differ by the extra weights (prune breaks ties by position)
    ties = threshold_ties(host_params, grid)
    loss_abs_untied = float(np.max(loss_abs[~ties])) if np.any(~ties) else float("nan")
    baselines_agree = bool(np.array_equal(outputs[True][..., [0, 2]], reference[..., [0, 2]]))
    round_speedups = np.asarray(timings[False]) / np.asarray(ours_times)
    ours_median, ours_spread = _stats(ours_times)
    loop_median, loop_spread = _stats(timings[False])
    once_median, once_spread = _stats(timings[True])
    print(f"  {num_seeds} seeds x {num_ratios} ratios, D = {dim}: prune.sweep {ours_median:.2f} s "
          f"(spread {ours_spread:.2f}) vs {baseline} loop {loop_median:.2f} s (spread "
          f"{loop_spread:.2f}): {loop_median / ours_median:.1f}x; vs the loop sorting once per "
          f"seed {once_median:.2f} s (spread {once_spread:.2f}): {once_median / ours_median:.1f}x;"
          f" per-round speedups {np.round(round_speedups, 2).tolist()}; accuracy mismatches "
          f"{mismatches} of {accuracy_diff.size} (max {accuracy_diff.max():.1e}), loss max "
          f"difference {loss_abs.max():.1e} (relative {loss_rel:.1e}); {int(ties.sum())} "
          f"(seed, ratio) pairs where the threshold also removes tied weights, elsewhere the "
          f"loss max difference is {loss_abs_untied:.1e}; test "
          f"accuracy at p = 0: {ours_metrics[:, 0, 0].round(3).tolist()}", flush=True)
    return {"large_ratios": num_ratios, "large_seeds": num_seeds, "dim": dim,
            "large_train_examples": num_train, "large_test_examples": num_test,
            "large_repeats": repeats, "large_baseline": baseline,
            "large_seconds": ours_median, "large_seconds_spread": ours_spread,
            "large_seconds_all": ours_times, "large_first_call_seconds": compile_seconds,
            "large_torch_seconds": loop_median, "large_torch_seconds_spread": loop_spread,
            "large_torch_seconds_all": timings[False],
            "large_speedup": loop_median / ours_median,
            "large_torch_sorted_once_seconds": once_median,
            "large_torch_sorted_once_seconds_spread": once_spread,
            "large_torch_sorted_once_seconds_all": timings[True],
            "large_sorted_once_speedup": once_median / ours_median,
            "large_round_speedups": round_speedups.tolist(),
            "large_round_sorted_once_speedups": (np.asarray(timings[True])
                                                 / np.asarray(ours_times)).tolist(),
            "large_loadavg_rounds": loads,
            "large_generic_seconds_extrapolated": generic_seconds,
            "large_accuracy_mismatches": mismatches,
            "large_max_accuracy_difference": float(accuracy_diff.max()),
            "large_max_loss_difference": float(loss_abs.max()),
            "large_max_loss_relative_difference": loss_rel,
            "large_threshold_tie_pairs": int(ties.sum()),
            "large_max_loss_difference_without_ties": loss_abs_untied,
            "large_same_accuracy": mismatches == 0,
            "large_baselines_same_accuracy": baselines_agree}


SMALL_KEYS = ("ratios", "seeds", "seconds", "loop_seconds", "speedup", "jitted_loop_seconds",
              "jitted_loop_speedup")
LARGE_KEYS = ("large_ratios", "large_seeds", "dim", "large_seconds", "large_torch_seconds",
              "large_speedup")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true",
                        help="small case 20 ratios x 4 seeds; large case 10 ratios x 2 seeds")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--large-only", action="store_true", help="run only the large FC5 case")
    only.add_argument("--small-only", action="store_true", help="run only the digits case")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats of the large case (default 3, --quick 2)")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads for the baseline (default: torch's own)")
    args = parser.parse_args()
    if args.torch_threads is not None:
        import torch
        torch.set_num_threads(args.torch_threads)
    repeats = args.repeats or (2 if args.quick else 3)
    report = {"benchmark": "sweep"}
    report.update(dict.fromkeys(SMALL_KEYS) if args.large_only else small_case(args.quick))
    report.update(dict.fromkeys(LARGE_KEYS) if args.small_only
                  else large_case(args.quick, repeats))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
