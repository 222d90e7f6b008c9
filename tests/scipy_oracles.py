"""Independent SciPy solutions the tests compare phasetrans against."""

import numpy as np
import scipy.optimize


def l1_logistic_minimum(x, y, num_classes, l1, keep=None):
    """min F = mean cross-entropy of x W + b + l1 ||W||_1, in float64 by L-BFGS-B on split
    variables W = U - V, U, V >= 0 (an independent solver); ``keep`` (the shape of W, bool)
    fixes W = 0 off a support (bounds (0, 0)), None leaves every weight free."""
    n, d = x.shape
    size = d * num_classes
    onehot = np.eye(num_classes)[y]

    def f(z):
        u, v, b = z[:size], z[size:2 * size], z[2 * size:]
        logits = x @ (u - v).reshape(d, num_classes) + b
        top = logits.max(1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(logits - top).sum(1))
        p = np.exp(logits - lse[:, None])
        g = (x.T @ (p - onehot) / n).ravel()
        value = np.mean(lse - logits[np.arange(n), y]) + l1 * (u.sum() + v.sum())
        return value, np.concatenate([g + l1, -g + l1, (p - onehot).mean(0)])

    keep = np.ones(size, bool) if keep is None else np.asarray(keep).ravel()
    free = [(0, None) if k else (0, 0) for k in keep]
    bounds = free + free + [(None, None)] * num_classes
    result = scipy.optimize.minimize(f, np.zeros(2 * size + num_classes), jac=True,
                                     method="L-BFGS-B", bounds=bounds,
                                     options=dict(maxiter=20_000, ftol=1e-15, gtol=1e-12))
    return result.fun
