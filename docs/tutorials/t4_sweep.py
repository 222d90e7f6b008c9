# %% [markdown]
# # A scripted parameter sweep
#
# The experiments under `experiments/` are scripts around one library call per configuration.
# This tutorial is the same pattern at a size that runs in a minute: train a small network at
# several ℓ1 strengths λ, assess each (prediction, premise, one-shot pruning), and collect
# the JSON documents into a table and a figure. The paper's qualitative claim to look for:
# a stronger penalty makes weights smaller, so R(p) is smaller and both the predicted and the
# empirical thresholds grow with λ [ZZSL sec. 4].

# %%
import jax
import matplotlib.pyplot as plt

import phasetrans
from phasetrans.applications import report
from phasetrans.networks import stationarity
from phasetrans.theory import predict

OPTIONS = predict.PredictOptions(
    ellipsoid_options=predict.EllipsoidOptions(num_ratios=3, num_samples=8),
    l1_body_options=predict.L1BodyOptions(max_dim=0))

# %% [markdown]
# ## The loop
# One `train_problem` + `assess` per λ; `report.comparison_json` is the document that
# `phasetrans predict --json` prints, so a sweep script and the command line produce the same
# records.

# %%
documents = []
for l1 in (3e-4, 1e-3, 3e-3):
    problem = phasetrans.train_problem("digits", arch="8", l1=l1, num_seeds=1,
                                       stop=stationarity.StopRule(max_steps=3000))
    comparison = phasetrans.assess(problem, key=jax.random.key(0), options=OPTIONS,
                                   num_sweep_ratios=51, further_steps=200)
    documents.append(report.comparison_json(comparison))

# %%
print(f"{'lambda':>8} {'D':>5} {'predicted':>9} {'interval':>16} {'one-shot':>8} "
      f"{'window':>7}  premise")
for doc in documents:
    lo, hi = doc["predicted_interval"]
    print(f"{doc['l1']:8.0e} {doc['num_params']:5d} {doc['predicted_removal_ratio']:9.3f} "
          f"[{lo:.3f}, {hi:.3f}] {doc['empirical_removal_ratio']['accuracy']:8.3f} "
          f"±{doc['window']['half_width']:.3f}  "
          f"{'holds' if doc['stationarity']['is_minimum'] else 'fails'}")

# %%
l1s = [doc["l1"] for doc in documents]
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.errorbar(l1s, [doc["predicted_removal_ratio"] for doc in documents],
            yerr=[doc["window"]["half_width"] for doc in documents], fmt="o-", capsize=3,
            label="predicted (± the theory's window)")
ax.plot(l1s, [doc["empirical_removal_ratio"]["accuracy"] for doc in documents], "s--",
        label="one-shot pruning (accuracy)")
ax.set_xscale("log")
ax.set_xlabel("λ")
ax.set_ylabel("removal ratio")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## The same sweep from the shell
# Each run prints one JSON object on stdout, so a shell loop and `jq` (or Python) collect them:
#
# ```bash
# for l1 in 3e-4 1e-3 3e-3; do
#   phasetrans predict --dataset digits --arch 8 --l1 $l1 --seeds 1 --no-monte-carlo \
#     --searches none --json > sweep-$l1.json
# done
# ```
#
# Larger sweeps are the experiment scripts (`python -m experiments.predicted_vs_actual.run`,
# ...), which write `results/<name>/results.json` and a `table.md` that the
# [results pages](../results/index.md) of this site are generated from.
