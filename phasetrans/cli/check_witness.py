"""``phasetrans check-witness FILE``: re-check a witness file from the file alone.

Exit status 0 when every check passes (the claim holds), 1 when one fails, 2 on bad input (a
file that cannot be read or does not match the model). It uses
:mod:`phasetrans.applications.witness_file` only: no search code is imported.
"""

from __future__ import annotations

import argparse

from phasetrans.cli import _flags, _network
from phasetrans.cli._flags import UsageError

EXIT_CLAIM_FAILS = 1
"""Exit status when the file is readable but its claim does not hold."""


def add_command(subparsers, formatter) -> argparse.ArgumentParser:
    """Add the ``check-witness`` parser to ``subparsers``."""
    parser = subparsers.add_parser(
        "check-witness", formatter_class=formatter,
        help="re-check a witness file (a sparse network claimed to meet the tolerance set)",
        description="Recompute a witness file's claim from the file alone: count the exact "
                    "zeros against its mask, recompute F = L + l1 |w| of the witness, of w* and "
                    "of the fair reference, the test accuracies and eps (from the recorded "
                    "mini-batch key), compare them with the stored values and evaluate the "
                    "claimed criterion. The dataset, network and l1 come from the file's "
                    "metadata. Exit 0: the claim holds; 1: it does not; 2: bad input.")
    parser.add_argument("file", help="the witness .npz (written with --witness-dir)")
    parser.add_argument("--data-file",
                        help="local .npz dataset (x_train, y_train, x_test, y_test) instead of "
                             "the built-in dataset the file names (default: none)")
    parser.add_argument("--model", metavar="FILE.py:NAME",
                        help="your own model's Problem (as for predict) when the witness is of "
                             "your model (default: the built-in network the file names)")
    parser.set_defaults(run=run)
    return parser


def run(args) -> dict:
    """Check ``args.file``: the document holds every check line, the recomputed values and
    ``exit_status``."""
    from phasetrans.applications import witness_file

    _flags.existing_file("file", args.file)
    if args.data_file is not None:
        _flags.existing_file("--data-file", args.data_file)
    if args.model is not None and args.data_file is not None:
        raise UsageError("--model and --data-file exclude each other: your Problem holds the "
                         "data")
    problem = None if args.model is None else _network.user_problem(args.model)
    with _flags.reported_as(args.file):
        result = witness_file.check(args.file, problem, data_file=args.data_file)
    verdict = ("the claim holds" if result.holds else "the claim does NOT hold")
    return {"file": args.file, "holds": result.holds, "checks": result.lines,
            "recomputed": result.recomputed,
            "exit_status": 0 if result.holds else EXIT_CLAIM_FAILS,
            "summary": [f"{args.file}: {verdict}", *("  " + line for line in result.lines)]}
