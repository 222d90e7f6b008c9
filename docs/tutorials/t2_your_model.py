# %% [markdown]
# # Predicting the pruning threshold of your own model
#
# Every capability of phasetrans takes a `Problem`: your trained parameters (any pytree), how
# to evaluate them, the data, and the λ you trained with. This tutorial is the smallest of the
# worked examples (`examples/plain_pytree.py`, at its `--quick` size): a dict of arrays and a
# function, trained with phasetrans's minimiser. The other examples show the same steps for an
# Equinox module (`examples/equinox_model.py`), a Flax model with BatchNorm
# (`examples/flax_batchnorm.py`) and a PyTorch checkpoint read without torch
# (`examples/torch_import.py`); run any of them with `python -m examples.<name> --quick`.

# %%
import jax
import jax.numpy as jnp

import phasetrans
from phasetrans.applications import report
from phasetrans.networks import data, nets, stationarity, train
from phasetrans.theory import predict

# %% [markdown]
# ## The model: any JAX function of a params pytree
# A tanh MLP 64-8-10 with a learned output scale. Leaves with `ndim >= 2` (the two weight
# matrices) are the prunable weights; pass `prunable=` to choose others.

# %%
L1 = 1e-3


def apply(params, x):
    h = jnp.tanh(x @ params["hidden"]["w"] + params["hidden"]["b"])
    return params["scale"] * (h @ params["out"]["w"] + params["out"]["b"])


k1, k2 = jax.random.split(jax.random.key(0))
start = {"hidden": {"w": jax.random.normal(k1, (64, 8)) / 8.0, "b": jnp.zeros(8)},
         "out": {"w": jax.random.normal(k2, (8, 10)) / 8**0.5, "b": jnp.zeros(10)},
         "scale": jnp.ones(())}

# %% [markdown]
# ## Train it to a minimum of F = L + λ‖w‖₁
# Every prediction assumes that w\* minimises F (the *premise*). `train.minimise` runs
# proximal Adam from your starting point until its stop rule says F is stationary; here it is
# capped at 3000 steps to stay quick, and the premise check below says honestly that this is
# not quite a minimum (`python -m examples.plain_pytree` without `--quick` trains to the
# stop rule with 32 hidden units). Your own training loop works as well.

# %%
ds = data.load("digits")
fitted = train.minimise(nets.cross_entropy(apply), start, (ds.x_train, ds.y_train), l1=L1,
                        training=train.TrainingOptions(stop=stationarity.StopRule(max_steps=3000),
                                                       learning_rate=1e-2))
problem = phasetrans.Problem.from_apply(apply, fitted.params, l1=L1,
                                        train=(ds.x_train, ds.y_train),
                                        test=(ds.x_test, ds.y_test),
                                        metadata={"dataset": "digits", "arch": "dict tanh MLP"})
print("steps", int(fitted.steps), "stop rule met:", bool(fitted.converged))

# %% [markdown]
# ## Predict, check the premise, prune
# `phasetrans.assess` predicts the removal threshold (the width formula and the Monte Carlo
# ellipsoid; the ℓ1-induced body is switched off here with `max_dim=0` to stay quick), checks
# whether w\* is a minimum of F, prunes at a grid of removal ratios and compares. The
# summary's lines are what `phasetrans predict` prints.

# %%
options = predict.PredictOptions(
    ellipsoid_options=predict.EllipsoidOptions(num_ratios=3, num_samples=8),
    l1_body_options=predict.L1BodyOptions(max_dim=0))
comparison = phasetrans.assess(problem, key=jax.random.key(0), options=options,
                               num_sweep_ratios=21, further_steps=200)
document = report.comparison_json(comparison)
print("\n".join(report.summary_lines(document)))

# %% [markdown]
# Read the summary from the top: the plain-language line, the three predictions with their
# intervals, the theory's own window (at this small D the kinematic formula is only sharp to
# about ± a quarter), the one-shot thresholds, the verdict, and the premise line: a prediction
# whose premise fails is reported, never hidden.
#
# The same document is what `--json` prints; [Reading the JSON](../how-to/reading-json.md)
# says what each field means. The prediction's numbers:

# %%
print("predicted removal ratio", round(document["predicted_removal_ratio"], 3),
      "interval", [round(v, 3) for v in document["predicted_interval"]])
print("one-shot pruning keeps accuracy up to", document["empirical_removal_ratio"]["accuracy"])
print("the theory's window at D =", document["num_params"], ": ±",
      round(document["window"]["half_width"], 3))
assert document["num_params"] == 64 * 8 + 8 * 10

# %% [markdown]
# On the command line the same runs as
# `phasetrans predict --model mine.py:problem`, where `mine.py` defines `problem` (a `Problem`
# or a function returning one); see [Your own model](../how-to/own-model.md).
