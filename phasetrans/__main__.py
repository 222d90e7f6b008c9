"""``python -m phasetrans`` runs the command-line interface."""

import sys

from phasetrans.cli import main

sys.exit(main())
