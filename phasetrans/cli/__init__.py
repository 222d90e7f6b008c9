"""Command-line front end: ``phasetrans <command> ... [--json]``.

Each command prints a short human-readable summary, or with ``--json`` exactly one JSON object on
stdout and nothing else there; progress bars, notes and warnings go to stderr.

Errors. Every flag is checked before any training or sampling starts. A mistake a user can make
(a value out of range, a flag that does not apply to the chosen mode, a missing or unreadable
input file, an output whose directory is missing or not writable) exits with status 2 after
printing one line on stderr, ``phasetrans <command>: error: <message>``, whose message names the
flag. A ``ValueError``, ``TypeError`` or ``OSError`` the library raises while loading or writing a
file is reported under the flag that named the file (``--data-file``, ``--params``,
``--save-params``, ``--figure``); one no flag can be blamed for is still reported on one line
(without a flag). Ctrl-C prints ``phasetrans <command>: interrupted`` and exits with status 130.
Any other exception is a bug and keeps its traceback.

One module per command family: :mod:`~phasetrans.cli.width`, :mod:`~phasetrans.cli.cs`,
:mod:`~phasetrans.cli.predict`, :mod:`~phasetrans.cli.explain` and :mod:`~phasetrans.cli.sweep`
(their network flags and comparison in ``_network``), :mod:`~phasetrans.cli.check_witness`;
each adds its parser (``add_command``) and runs it (``run``). The flag checks every command
shares are in ``_flags``. This module assembles the parser and runs a command.
"""

from __future__ import annotations

import argparse
import sys
import time

from phasetrans import _compile_cache, _interrupt, _io
from phasetrans.cli import _flags, check_witness, cs, explain, predict, sweep, width
from phasetrans.cli._flags import UsageError

__all__ = ["EXIT_USAGE", "UsageError", "build_parser", "console", "main"]

EXIT_USAGE = 2
"""Exit status of a user error (argparse's convention)."""


class _ParseError(Exception):
    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose own errors (unknown flag, bad int, missing argument) become one
    line on stderr, like every other error, instead of usage text plus a message."""

    def error(self, message):
        raise _ParseError(self.prog, message)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` after every option, ``(required)`` after required ones; help
    texts that already state their default (flags whose default depends on another) are kept."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if action.required:
            return text + " (required)"
        if "default" in text:
            return text
        return text + " (default: %(default)s)"


# ------------------------------------------------------------------------------------ main

_COMMANDS = (width, cs, predict, explain, sweep, check_witness)
"""The command modules, in the order of ``phasetrans --help``; each one's ``add_command`` adds
its sub-command parser and sets ``run`` (args -> dict) as its default."""


def build_parser() -> argparse.ArgumentParser:
    """The ``phasetrans`` argument parser with its sub-commands."""
    parser = _Parser(
        prog="phasetrans",
        description="Gaussian widths, Hessian spectra and pruning thresholds (see README).")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        _flags.add_common(command.add_command(subparsers, _HelpFormatter))
    return parser


def main(argv: list[str] | None = None, *, compile_cache: bool = False) -> int:
    """Run one ``phasetrans`` command (``argv``, default ``sys.argv[1:]``); returns the process
    exit status. ``compile_cache``: keep compiled programs on disk for the next run
    (:func:`phasetrans._compile_cache.enable`; the console script's choice, default False)."""
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
    except _ParseError as err:
        print(f"{err.prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as err:  # --help
        return err.code if isinstance(err.code, int) else 0
    prefix = f"phasetrans {args.command}"
    if unknown:
        print(f"{prefix}: error: unrecognized arguments: {' '.join(unknown)}", file=sys.stderr)
        return EXIT_USAGE
    start = time.perf_counter()
    try:
        if compile_cache:
            _compile_cache.enable()
        _flags.resolve_devices(args)
        result = args.run(args)
    except UsageError as err:
        print(f"{prefix}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError) as err:  # a library check no flag could be blamed for
        print(f"{prefix}: error: {_flags.describe(err)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return _interrupt.EXIT_INTERRUPTED
    result["seconds"] = time.perf_counter() - start
    result["devices"] = args.devices
    summary = result.pop("summary")
    status = result.pop("exit_status", 0)
    try:
        print(_io.dumps(result) if args.json else "\n".join(summary), flush=True)
    except BrokenPipeError:  # the reader went away (``| head``): not an error of ours
        sys.stdout = None
    return status


def console() -> None:
    """The ``phasetrans`` console script: :func:`main` with Ctrl-C ending the process at once,
    even inside a compiled computation (one line, exit status 130;
    :func:`phasetrans._interrupt.exit_on_interrupt`), and compiled programs kept on disk for
    the next run (:mod:`phasetrans._compile_cache`)."""
    _interrupt.exit_on_interrupt("phasetrans")
    sys.exit(main(compile_cache=True))


if __name__ == "__main__":
    console()
