"""Progress on stderr for long loops, so stdout stays clean for ``--json``.

On a terminal: a tqdm bar, redrawn in place. Elsewhere (a log file, a pipe, CI): no escape
codes or carriage returns, only one plain line per finished loop (``desc: N done in T s``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable

from tqdm.auto import tqdm


def _plain(iterable: Iterable, desc: str):
    done = _PlainCounter(desc, enabled=True)
    for item in iterable:
        done.update(1)
        yield item
    done.close()


def track(iterable: Iterable, *, desc: str, total: int | None = None, enabled: bool = True):
    """Wrap ``iterable`` in a progress display on stderr; a no-op when ``enabled`` is False."""
    if not enabled:
        return iterable
    if not sys.stderr.isatty():
        return _plain(iterable, desc)
    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False,
                dynamic_ncols=True)


class _PlainCounter:
    """A counter that prints one plain line when closed (not on a terminal), or nothing."""

    def __init__(self, desc: str, enabled: bool):
        self.desc, self.enabled, self.count = desc, enabled, 0
        self.start = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.count += n

    def close(self) -> None:
        if self.enabled:
            print(f"{self.desc}: {self.count} done in {time.perf_counter() - self.start:.1f} s",
                  file=sys.stderr, flush=True)


def counter(*, desc: str, total: int | None = None, enabled: bool = True):
    """A progress counter for loops without an iterable: ``update(n)`` then ``close()``; a
    tqdm bar on a terminal, one plain line at ``close()`` elsewhere, nothing if disabled."""
    if enabled and sys.stderr.isatty():
        return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)
    return _PlainCounter(desc, enabled)
