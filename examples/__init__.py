"""Worked examples: your own model (Equinox, Flax, a plain pytree, PyTorch) through phasetrans.

Run one with ``python -m examples.<name>`` (add ``--quick`` for the small size the tests use).
"""
