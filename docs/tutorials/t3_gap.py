# %% [markdown]
# # Where the gap comes from, and is the prediction a limit?
#
# A predicted threshold p̂ and a one-shot pruning threshold differ for several reasons at once.
# `phasetrans.explain` (the attribution ladder, `phasetrans.applications.attribution`)
# measures each step on its own: the width formula against the Monte Carlo statistical
# dimension δ, the kinematic formula on random subspaces, the actual magnitude support against
# a random subspace (exact feasibility), masked retraining against the ℓ1-induced model, and
# one-shot pruning against retraining. Then `phasetrans.applications.limit` asks the one-sided
# question the theory really makes: can *any* search find a sparse network beyond p̂ whose
# objective is within ε of the trained one (a **witness**)?
#
# Everything here runs at a small size (a 64-8-10 MLP, few samples, short retraining); the
# numbers are illustrations, not results. The measured ones are on the
# [gap attribution](../results/gap_attribution.md) and [limit test](../results/limit_test.md)
# pages.

# %%
import jax

import phasetrans
from phasetrans.applications import attribution, limit, report
from phasetrans.networks import stationarity, witnesses
from phasetrans.theory import predict

# %% [markdown]
# ## A small trained network, assessed
# `train_problem` trains built-in networks (here digits 64-8-10, λ = 1e-3, one seed) until the
# stop rule holds, capped at 8000 steps; `assess` predicts (exact spectrum, which the
# attribution needs), checks the premise and prunes.

# %%
problem = phasetrans.train_problem("digits", arch="8", l1=1e-3, num_seeds=1,
                                   stop=stationarity.StopRule(max_steps=8000))
comparison = phasetrans.assess(
    problem, key=jax.random.key(0), num_sweep_ratios=51, further_steps=200,
    options=predict.PredictOptions(
        ellipsoid_options=predict.EllipsoidOptions(num_ratios=3, num_samples=8),
        l1_body_options=predict.L1BodyOptions(max_dim=0)))
print(report.summary_lines(report.comparison_json(comparison))[0])

# %% [markdown]
# ## The ladder
# Each rung is a threshold; each difference between consecutive rungs is one cause of the gap,
# compared with the theory's window a_η√D/D [ALMT Thm I].

# %%
explained = phasetrans.explain(comparison, key=jax.random.key(2),
                               options=attribution.AttributionOptions(
                                   num_ratios=21, subspace_ratios=3, num_subspaces=4,
                                   l1_max_dim=0, l1_support_max_dim=0, retrain_ratios=6,
                                   retrain_steps=100))
ladder = report.attribution_json(explained)
print("\n".join(report.attribution_lines(ladder)))

# %%
for name, value in ladder["thresholds"].items():
    if value is not None:
        print(f"{name:32s} {value['mean']:.3f}")

# %% [markdown]
# ## Is the prediction a limit?
# Masked retraining from the magnitude support (the `retrain` search; also `imp`, `gradual`
# and `model`) looks for the sparsest network with F ≤ F\*_fair + ε, bracketing its threshold
# by bisection on p. The verdict is one of "beaten beyond the window", "beaten within the
# window" and "not beaten by these searches". Here each retraining is capped at 1500 steps.

# %%
test = limit.limit_test(comparison, key=jax.random.key(0), searches=("retrain",),
                        options=witnesses.SearchOptions(
                            stop=stationarity.StopRule(window=500, check_every=250,
                                                       max_steps=1500)))
document = limit.limit_json(test)
print("\n".join(limit.limit_lines(document)))
assert document["verdict"] in ("beaten beyond the window", "beaten within the window",
                               "not beaten by these searches")

# %% [markdown]
# `phasetrans predict/explain/sweep --searches retrain,imp,gradual --witness-dir DIR` writes
# every best witness to a file, and `phasetrans check-witness FILE` recomputes the claim from
# the file alone.
