"""``python -m phasetrans`` runs the command-line interface."""

from phasetrans.cli import console

console()
