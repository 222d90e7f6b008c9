"""The premise on the 18 networks: the fixed 2000-step budget vs training to stationarity.

    python -m experiments.predicted_vs_actual.premise   # -> results/predicted_vs_actual/*_premise.*

The rows of ``results/predicted_vs_actual/budget_2000/`` were computed before phasetrans checked
whether w* minimises F, so this script retrains those networks exactly as they were (the same
keys, 2000 full-batch Adam steps; training is deterministic on the CPU) and applies the premise
check (``train.check_stationarity`` with each seed's eps from the old row; a configuration
already in ``results_premise.json`` keeps its check, so a rerun only fills in rows computed
since). Beside it, the
stationary rows of ``results/predicted_vs_actual/results.json`` (which carry their own check):
steps, F, the decrease of F under 2000 further steps in eps, the relative subgradient, the
exact zeros, the Hessian's negative / near-zero eigenvalue counts (exact spectrum, |lambda| <
1e-4), the prediction and the one-shot threshold. Writes ``results_premise.json`` and
``table_premise.md``.
"""

from __future__ import annotations

import jax
import numpy as np

from experiments import _output
from phasetrans.networks import data, nets, train

BUDGET = _output.TRAININGS["budget_2000"]


def budget_check(row) -> dict:
    """The premise check on the networks of one budget_2000 row, retrained as they were."""
    ds = data.load(row["dataset"], seed=0)
    arch = _output.config_key(row)[1]
    net = nets.parse_arch(arch, input_shape=ds.input_shape, num_classes=ds.num_classes)
    keys = jax.random.split(jax.random.key(0), row["seeds"])
    params = train.train_seeds(net, ds, keys=keys, l1=row["l1"], **BUDGET._asdict()).params
    checks = [train.check_stationarity(
        nets.cross_entropy(net.apply), jax.tree_util.tree_map(lambda w, s=s: w[s], params),
        (ds.x_train, ds.y_train), l1=row["l1"], epsilon=eps)
        for s, eps in enumerate(row["epsilon_per_seed"])]
    return {"is_minimum": all(c.is_minimum for c in checks),
            "max_decrease_in_epsilon": max(c.decrease_in_epsilon for c in checks),
            "max_relative_subgradient": max(c.relative_subgradient for c in checks),
            "per_seed": [c.to_dict() for c in checks]}


def _summary(row, check) -> dict:
    spectra = row["spectrum"]
    counts = {k: float(np.mean([s[k] for s in spectra])) for k in ("num_negative",
                                                                     "num_near_zero")}
    per_seed = check["per_seed"]
    return {**counts, "objective": float(np.mean([c["objective"] for c in per_seed])),
            "zero_fraction": float(np.mean([c["zero_fraction"] for c in per_seed])),
            "max_decrease_in_epsilon": check["max_decrease_in_epsilon"],
            "max_relative_subgradient": check["max_relative_subgradient"],
            "is_minimum": check["is_minimum"], "epsilon": row["epsilon"],
            "predicted": row["predicted_removal_ratio"],
            "oneshot_accuracy": row["empirical_removal_ratio"]["accuracy"]}


def table(rows) -> str:
    """Markdown: before (budget) | after (stationary), per configuration."""
    head = ("F(w*) | ΔF/ε | subgr. | zeros | H neg / ≈0 | p̂ | 1-shot")
    lines = [f"| dataset | arch | λ | D | steps | budget: {head} | stationary: {head} |",
             "|---" * 19 + "|"]
    for r in rows:
        cells = []
        for side in ("budget", "stationary"):
            s = r[side]
            if s is None:
                cells.append(" | ".join(["—"] * 7))
                continue
            flag = "" if s["is_minimum"] else " ✗"
            cells.append(f"{s['objective']:.4f} | {s['max_decrease_in_epsilon']:.3g}{flag} | "
                         f"{s['max_relative_subgradient']:.2f} | {s['zero_fraction']:.2f} | "
                         f"{s['num_negative']:.0f} / {s['num_near_zero']:.0f} | "
                         f"{s['predicted']:.3f} | {s['oneshot_accuracy']:.3f}")
        lines.append(f"| {r['dataset']} | {r['arch']} | {r['l1']:g} | {r['num_params']} | "
                     f"{r['steps']} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    base = _output.RESULTS / "predicted_vs_actual"
    old = _output.read_rows(base / "budget_2000" / "results.json")
    new = {_output.config_key(r): r for r in _output.read_rows(base / "results.json")}
    done = {_output.config_key(r): r["budget"]
            for r in _output.read_rows(base / "results_premise.json")}
    rows = []
    for row in old:
        key = _output.config_key(row)
        after = new.get(key)
        steps = after["stationarity"]["training"]["steps"] if after else None
        rows.append({"dataset": row["dataset"], "arch": row["arch"], "l1": row["l1"],
                     "num_params": row["num_params"],
                     "steps": "—" if steps is None else f"{min(steps)}–{max(steps)}",
                     "budget": done.get(key) or _summary(row, budget_check(row)),
                     "stationary": None if after is None
                     else _summary(after, after["stationarity"])})
        print(f"{key}: budget ΔF {rows[-1]['budget']['max_decrease_in_epsilon']:.3g} eps",
              flush=True)
        _output.write_rows(base, rows, table(rows), suffix="_premise")


if __name__ == "__main__":
    main()
