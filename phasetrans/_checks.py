"""Input validation shared by the public functions.

Every check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong
value) with a message naming the argument, what it got and what is allowed. Checks on array
*values* (finiteness, PSD) run only on concrete arrays: under ``jax.jit`` the inputs are tracers
and the caller's own un-jitted entry point is where values are validated.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import jax
import jax.numpy as jnp
import numpy as np


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def integer(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` after checking it is an integer in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def boolean(name: str, value) -> bool:
    """Return ``value`` after checking it is ``True`` or ``False`` (not 0/1, not None)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def positive_int(name: str, value) -> int:
    """Return ``value`` as ``int`` after checking it is an integer >= 1."""
    return integer(name, value, minimum=1)


def real(
    name: str,
    value,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    low: float | None = None,
    high: float | None = None,
) -> float:
    """Return ``value`` as ``float`` after checking it is a finite real number in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | np.ndarray | jax.Array):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if np.ndim(value) != 0:
        raise TypeError(f"{name} must be a scalar, got an array of shape {np.shape(value)}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def removal_ratio(name: str, value) -> float:
    """A removal ratio: the fraction of weights set to zero, in [0, 1]."""
    return real(name, value, low=0.0, high=1.0)


def removal_ratios(name: str, value) -> jax.Array:
    """A non-empty 1-D grid of removal ratios in [0, 1], as a floating array."""
    grid = array(name, value, ndim=1)
    if grid.size == 0 or np.any((np.asarray(grid) < 0) | (np.asarray(grid) > 1)):
        raise ValueError(f"{name} must be a non-empty 1-D array of values in [0, 1], got "
                         f"{np.asarray(grid)}")
    return grid


def increasing_ratios(name: str, value, *, minimum_size: int = 1) -> np.ndarray:
    """A strictly increasing grid of removal ratios in [0, 1] with at least ``minimum_size``
    points, as a float64 NumPy array (threshold and crossing finders read it in order)."""
    grid = np.asarray(array(name, value, ndim=1), np.float64)
    if (grid.size < minimum_size or np.any(np.diff(grid) <= 0)
            or (grid.size and (grid[0] < 0 or grid[-1] > 1))):
        raise ValueError(f"{name} must be a strictly increasing grid in [0, 1] with >= "
                         f"{minimum_size} point(s), got {grid}")
    return grid


def per_seed_positive(name: str, value, num_seeds: int, *, owner: str) -> np.ndarray:
    """A tolerance > 0 given as a scalar or one value per seed, as a float64 (S,) array;
    ``owner`` names what has the ``num_seeds`` seeds (for the message)."""
    values = np.asarray(array(name, value), np.float64)
    if values.ndim > 1 or np.any(values <= 0):
        raise ValueError(f"{name} must be > 0 (a scalar or one value per seed), got {values}")
    if values.ndim == 1 and values.size != num_seeds:
        raise ValueError(f"{name} has {values.size} values (one per seed) but {owner} has "
                         f"{num_seeds} seeds; pass one value per seed or a scalar")
    return np.broadcast_to(values, (num_seeds,)).copy()


def options(name: str, value, kind: type, *, default=None):
    """``value`` (None: ``default``, or ``kind()``, the defaults) after checking it is a
    ``kind``, then validated by its ``validate()`` (every options type has one)."""
    if value is None:
        value = kind() if default is None else default
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {kind.__module__}.{kind.__qualname__} or None, got "
                        f"{type(value).__name__}")
    return value.validate()


def one_of(name: str, value, allowed: Iterable[str]) -> str:
    """Check that ``value`` is one of the ``allowed`` strings."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def prng_key(name: str, key) -> jax.Array:
    """Check that ``key`` is a JAX PRNG key (typed ``jax.random.key`` or raw uint32[2])."""
    if key is None:
        raise TypeError(f"{name} is required: pass a key from jax.random.key(seed)")
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"{name} must be a single key, got a batch of shape {key.shape}")
        return key
    if hasattr(key, "dtype") and key.dtype == jnp.uint32 and np.shape(key) == (2,):
        return key
    raise TypeError(f"{name} must be a JAX PRNG key from jax.random.key(seed), got {key!r}")


def finite(name: str, tree) -> None:
    """Raise ``ValueError`` if any concrete leaf of ``tree`` holds NaN or Inf."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if not _is_concrete(leaf):
            continue
        arr = np.asarray(leaf)
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            where = jax.tree_util.keystr(path) if path else ""
            raise ValueError(f"{name}{where} contains NaN or Inf; inputs must be finite")


def array(name: str, x, *, ndim: int | None = None, shape: tuple | None = None) -> jax.Array:
    """Convert ``x`` to a floating JAX array, checking dimensionality, shape and finiteness.

    Integer inputs are promoted to JAX's default float dtype; float16/32/64 are preserved.
    """
    if isinstance(x, str | bytes) or x is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}")
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {x.shape}")
    if shape is not None and x.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {x.shape}")
    finite(name, x)
    return x


def same_structure(name_a: str, a, name_b: str, b) -> None:
    """Check that two pytrees have the same structure and leaf shapes."""
    struct_a, struct_b = jax.tree_util.tree_structure(a), jax.tree_util.tree_structure(b)
    if struct_a != struct_b:
        raise ValueError(f"{name_a} and {name_b} must have the same pytree structure; "
                         f"got {struct_a} and {struct_b}")
    for la, lb in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        if np.shape(la) != np.shape(lb):
            raise ValueError(f"{name_a} and {name_b} have leaves of different shapes: "
                             f"{np.shape(la)} vs {np.shape(lb)}")


def num_examples(name: str, data) -> int:
    """The shared leading (example) axis length of a pytree of arrays, checked finite."""
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise ValueError(f"{name} must contain at least one array")
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"all arrays in {name} need the same leading example axis, got {sizes}")
    finite(name, data)
    count = int(sizes.pop())
    if count == 0:
        raise ValueError(f"{name} holds no examples")
    return count


def orthonormal_columns(name: str, matrix) -> None:
    """Raise ``ValueError`` unless the columns of ``matrix`` (D, k) are orthonormal to within
    1e3 machine epsilons times sqrt(D) (max |M^T M - I|)."""
    rank = matrix.shape[1]
    if rank == 0:
        return
    gram = np.asarray(matrix.T @ matrix, np.float64)
    error = float(np.max(np.abs(gram - np.eye(rank))))
    allowed = 1e3 * float(jnp.finfo(matrix.dtype).eps) * np.sqrt(matrix.shape[0])
    if error > allowed:
        raise ValueError(f"{name} must have orthonormal columns: max |M^T M - I| = "
                         f"{error:.3g} > {allowed:.3g}")


def float_dtype(name: str, dtype) -> np.dtype:
    """``dtype`` as a floating NumPy dtype; None means JAX's default float (float32, or float64
    inside ``jax.enable_x64(True)``)."""
    dtype = jnp.dtype(jnp.result_type(float) if dtype is None else dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{name} must be a floating dtype, got {dtype}")
    return dtype


def default_tol(dtype, *, float32: float, float64: float) -> float:
    """A solver tolerance that suits the precision: ``float32`` for float32 data, else
    ``float64``."""
    return float32 if jnp.dtype(dtype) == jnp.float32 else float64


def tol(value, dtype, *, float32: float, float64: float, name: str = "tol") -> float:
    """``value`` checked > 0, or :func:`default_tol` for ``dtype`` when it is None."""
    if value is None:
        return default_tol(dtype, float32=float32, float64=float64)
    return real(name, value, positive=True)
