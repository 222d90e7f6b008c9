# %% [markdown]
# # The width of a convex body, with its error bar, against a closed form
#
# Every quantity phasetrans predicts a pruning threshold from is a Monte Carlo estimate over
# Gaussian vectors g ~ N(0, I): the **Gaussian width** w(K) = E sup⟨g, x⟩ of a set and the
# **statistical dimension** δ(C) = E‖Π_C(g)‖² of a cone. Each comes back as an
# `Estimate(mean, sem, num_samples)`; where a projection solver is involved, with the worst
# `SolverInfo` over the samples. Here we check three of them against their closed forms
# (`phasetrans.geometry.closed_forms`, the test oracles of the library).

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from phasetrans.geometry import bodies, closed_forms, subspaces, width

# %% [markdown]
# ## 1. The width of the unit ball
# sup over the unit ball of ⟨g, x⟩ is ‖g‖, so w = E‖g‖ = √2 Γ((D+1)/2)/Γ(D/2).

# %%
dim = 50
est = width.gaussian_width(bodies.L2Ball.create(dim=dim, radius=1.0), key=jax.random.key(0),
                           num_samples=4000)
exact = closed_forms.l2_ball_width(dim=dim)
print(f"Monte Carlo {est.mean:.3f} ± {est.sem:.3f}   closed form {exact:.3f}")
assert abs(est.mean - exact) < 4 * est.sem

# %% [markdown]
# ## 2. The ℓ1 descent cone: the compressed-sensing transition's ψ(s, d)
# At an s-sparse point of R^d the descent cone of the ℓ1 norm has statistical dimension
# δ ≤ ψ(s, d), and ψ − 2√(d/s) ≤ δ [ALMT Prop 4.5, Thm 4.3]. The projection onto the cone is
# a one-dimensional search (Moreau), so every sample reports whether it converged.

# %%
d = 100
rows = []
for s in (2, 5, 10, 20, 40, 60):
    x0 = np.zeros(d)
    x0[:s] = 1.0
    est, info = width.statistical_dimension(bodies.L1DescentCone.create(x0),
                                            key=jax.random.key(s), num_samples=400)
    psi = closed_forms.l1_descent_cone_statdim(sparsity=s, dim=d)
    low = closed_forms.l1_descent_cone_statdim_lower_bound(sparsity=s, dim=d)
    rows.append((s, est.mean, est.sem, psi, low, bool(info.converged)))
    assert low - 4 * est.sem <= est.mean <= psi + 4 * est.sem and info.converged
for s, mean, sem, psi, low, ok in rows:
    print(f"s = {s:2d}: delta = {mean:6.2f} ± {sem:.2f}   psi = {psi:6.2f}   "
          f"lower bound {low:6.2f}   converged {ok}")

# %%
s_grid = np.arange(1, d)
psi_curve = [closed_forms.l1_descent_cone_statdim(sparsity=int(s), dim=d) for s in s_grid]
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(s_grid / d, np.array(psi_curve) / d, label="ψ(s, d)/d (closed form)")
ax.errorbar([r[0] / d for r in rows], [r[1] / d for r in rows],
            yerr=[2 * r[2] / d for r in rows], fmt="o", label="Monte Carlo δ/d ± 2 SEM")
ax.set_xlabel("s/d")
ax.set_ylabel("δ/d")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## 3. The cone a body generates, seen from outside: the pruning question
# A pruned network sits at x₀ outside the tolerance body K; the theory asks for δ of the cone
# K generates seen from x₀. For a ball of radius r at distance R the cone is circular, with a
# closed form; `width.cone_statdim` projects onto cone(K − x₀) by a convex search over the
# scale (golden section, with a Moreau/KKT certificate).

# %%
ball = bodies.Ellipsoid.create(semi_axes=jnp.ones(20), center=jnp.zeros(20))  # the unit ball
apex = jnp.zeros(20).at[0].set(3.0)
est, info = width.cone_statdim(ball, apex, key=jax.random.key(1), num_samples=400)
exact = closed_forms.ball_cone_statdim(dim=20, radius=1.0, distance=3.0)
print(f"Monte Carlo {est.mean:.2f} ± {est.sem:.2f}   closed form {exact:.2f}   "
      f"worst residual {float(info.residual):.1e}")
assert abs(est.mean - exact) < 4 * est.sem + 0.05

# %% [markdown]
# ## 4. What δ predicts: random subspaces meeting the body
# The kinematic formula says a random k-dimensional subspace through x₀ meets K when
# k + δ > D, with a transition of half-width a_η √D [ALMT Thm I]. `subspaces.transition`
# draws Haar subspaces on a grid of k and finds the 50 % point k₅₀, so δ̂ = D − k₅₀;
# `consistent_with` asks whether a δ lies within the theorem's window of it. Here a ball of
# radius 0.5 at distance 1 in R²⁰⁰ (δ = 50.5 in closed form).

# %%
dim = 200
far_ball = bodies.Ellipsoid.create(semi_axes=jnp.full(dim, 0.5),
                                   center=jnp.zeros(dim).at[0].set(1.0))
result = subspaces.transition(far_ball, jnp.zeros(dim), key=jax.random.key(2),
                              dims=np.arange(128, 171, 3), num_subspaces=100)
delta = closed_forms.ball_cone_statdim(dim=dim, radius=0.5, distance=1.0)
print(f"k50 = {result.k50:.1f}: delta_hat = {result.statdim:.1f} vs {delta:.1f} in closed form, "
      f"window +-{result.half_width_dims:.0f}")
assert result.consistent_with(delta)

# %% [markdown]
# The same estimators run on the ellipsoid and the ℓ1-induced body of a trained network; see
# [Predicting the threshold of your model](t2_your_model.py).
