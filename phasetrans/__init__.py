"""phasetrans: put a geometric theory of network pruning to the test.

Modules (one concept each): ``estimate`` (Monte Carlo mean with SEM).
"""

from phasetrans import estimate
from phasetrans.estimate import Estimate

__all__ = ["Estimate", "estimate"]
__version__ = "0.1.0"
