"""Progress bars for long loops: tqdm on stderr, so stdout stays clean for ``--json``."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm.auto import tqdm


def track(iterable: Iterable, *, desc: str, total: int | None = None, enabled: bool = True):
    """Wrap ``iterable`` in a tqdm bar written to stderr; a no-op when ``enabled`` is False."""
    return tqdm(iterable, desc=desc, total=total, disable=not enabled, file=sys.stderr,
                leave=False, dynamic_ncols=True)
