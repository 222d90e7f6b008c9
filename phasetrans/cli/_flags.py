"""What every command shares: the checks of flag values (each failure a :class:`UsageError`
whose message names the flag), the common flags ``--json`` and ``--devices``, notes on stderr."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import pathlib
import sys

MAX_COUNT = 2**31 - 1
"""Largest value of a count flag (``--samples``, ``--steps``, ...): JAX indexes with int32."""

MAX_SEED = 2**32 - 1
"""Largest ``--seed``: ``jax.random.key`` keeps 32 bits; larger seeds would repeat smaller ones."""


class UsageError(Exception):
    """A mistake on the command line; its message names the flag (exit status 2)."""


def describe(err: BaseException) -> str:
    """The message of a library exception, without a traceback."""
    if isinstance(err, OSError) and err.strerror:
        name = err.filename if err.filename is not None else ""
        return f"{err.strerror}: {str(name)!r}" if name else err.strerror
    return str(err) or type(err).__name__


@contextlib.contextmanager
def reported_as(flag: str, *extra: type[BaseException]):
    """Re-raise a ValueError, TypeError or OSError (and ``extra`` types) of the body as a
    :class:`UsageError` whose message starts with ``flag``."""
    try:
        yield
    except (ValueError, TypeError, OSError, *extra) as err:
        raise UsageError(f"{flag}: {describe(err)}") from err


def integer(flag: str, value: int, *, minimum: int | None = None, maximum: int | None = None,
            maximum_name: str | None = None, why: str = "") -> int:
    """Check an int flag is in [minimum, maximum]; ``maximum_name`` names a maximum given by
    another flag, ``why`` explains the maximum."""
    if minimum is not None and value < minimum:
        raise UsageError(f"{flag} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        bound = maximum if maximum_name is None else f"{maximum_name} ({maximum})"
        raise UsageError(f"{flag} must be <= {bound}, got {value}{why}")
    return value


def real(flag: str, value: float, *, positive: bool = False, nonnegative: bool = False,
         high: float | None = None, high_name: str | None = None) -> float:
    """Check a float flag is finite and > 0 (``positive``), >= 0 (``nonnegative``), <= high."""
    if not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number, got {value}")
    if positive and value <= 0:
        raise UsageError(f"{flag} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise UsageError(f"{flag} must be >= 0, got {value}")
    if high is not None and value > high:
        raise UsageError(f"{flag} must be <= {high_name or high}, got {value}")
    return value


def names(flag: str, value: str, allowed, what: str, *, alternative: str = "") -> list[str]:
    """The comma-separated names of ``flag``, each one of ``allowed`` and none twice."""
    listed = [name.strip() for name in value.split(",")]
    for name in listed:
        if name not in allowed:
            raise UsageError(f"{flag}: unknown {what} {name!r}; allowed: {','.join(allowed)} "
                             f"(comma-separated){alternative}")
    if len(set(listed)) != len(listed):
        raise UsageError(f"{flag} lists a {what} twice: {value!r}")
    return listed


def seed(value: int) -> int:
    return integer("--seed", value, minimum=0, maximum=MAX_SEED,
                   why=" (jax.random.key keeps 32 bits)")


def not_given(flag: str, value, reason: str) -> None:
    """Refuse a flag (given, i.e. not None) that does not apply; ``reason`` says why."""
    if value is not None:
        raise UsageError(f"{flag} does not apply {reason}")


def existing_file(flag: str, path: str) -> None:
    p = pathlib.Path(path)
    if not p.exists():
        raise UsageError(f"{flag} {path!r} does not exist")
    if not p.is_file():
        raise UsageError(f"{flag} {path!r} is not a file (a directory?); give the file itself")
    if not os.access(p, os.R_OK):
        raise UsageError(f"{flag} {path!r} is not readable (permission denied)")


def output_file(flag: str, path: str, formats: list[str]) -> bool:
    """Check that ``path`` can be written: its suffix (lower case) is one of ``formats``, its
    directory exists and is writable, it is not a directory. Returns whether it exists."""
    p = pathlib.Path(path)
    allowed = ", ".join(f".{f}" for f in formats)
    if p.suffix[1:].lower() not in formats:
        raise UsageError(f"{flag} {path!r} must end in one of {allowed}")
    parent = p.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {path!r}: directory {str(parent)!r} does not exist; create it "
                         "first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path!r}: directory {str(parent)!r} is not writable")
    if p.is_dir():
        raise UsageError(f"{flag} {path!r} is a directory; give a file name")
    return p.exists()


def figure_formats() -> list[str]:
    """File suffixes matplotlib can write (png, pdf, svg, jpg, ...)."""
    from matplotlib.figure import Figure

    return sorted(Figure().canvas.get_supported_filetypes())


def note(command: str, text: str) -> None:
    print(f"phasetrans {command}: {text}", file=sys.stderr)


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout and nothing else there")
    parser.add_argument("--devices", type=int,
                        help="devices sharing the independent work (Monte Carlo samples, SLQ "
                             "probes, seeds x ratios, trials), >= 1; the numbers do not depend "
                             "on it (default: all visible devices; on CPU one, unless "
                             "XLA_FLAGS=--xla_force_host_platform_device_count=N)")


def resolve_devices(args) -> None:
    """Check ``--devices`` before any work; None becomes every visible device."""
    import jax

    from phasetrans import devices

    if args.devices is None:
        args.devices = jax.device_count()
    with reported_as("--devices"):
        devices.mesh(args.devices)
