"""A PyTorch checkpoint: an ``nn.Sequential`` CNN's state_dict in a ``.safetensors`` file,
imported into JAX (no torch needed), fine-tuned on digits, then pruned-and-explained.

``phasetrans.networks.interop.from_state_dict(path, layers)`` reads the weights with NumPy and
rebuilds PyTorch's forward pass (layouts unchanged: ``(n, C, H, W)`` images, Linear weights ``(out,
in)``), so masks map back to the checkpoint's keys (``imported.names``). The checkpoint here is the
small CNN of tests/fixtures (made by PyTorch with tests/fixtures/make_torch_fixture.py, untrained);
use your own file and layer list instead. With torch installed, ``interop.from_module(module)``
reads a live ``nn.Sequential`` directly.
"""

from __future__ import annotations

import pathlib

from examples._walkthrough import quick_flag, walkthrough
from phasetrans.networks import data, interop, nets, stationarity, train
from phasetrans.networks.problem import Problem

CHECKPOINT = pathlib.Path(__file__).resolve().parents[1] / "tests/fixtures/torch_cnn.safetensors"
LAYERS = [interop.Layer("conv2d", padding=1), "relu",
          interop.Layer("conv2d", stride=2, padding=1), "relu", "flatten", "linear"]
L1 = 1e-3


def problem(*, quick: bool = False) -> Problem:
    imported = interop.from_state_dict(CHECKPOINT, LAYERS)
    ds = data.load("digits")
    images = lambda x: x.reshape(-1, 1, 8, 8)  # noqa: E731  PyTorch's (n, C, H, W)
    count = 300 if quick else len(ds.y_train)  # quick: a CNN on 2 CPU cores, kept small
    train_set = (images(ds.x_train[:count]), ds.y_train[:count])
    fitted = train.minimise(nets.cross_entropy(imported.apply), imported.params, train_set,
                            l1=L1, training=train.TrainingOptions(
                                stop=stationarity.StopRule(max_steps=2000 if quick else 50000),
                                learning_rate=1e-2))
    return Problem.from_apply(imported.apply, fitted.params, train=train_set,
                              test=(images(ds.x_test), ds.y_test), l1=L1,
                              metadata={"dataset": "digits", "arch": "PyTorch CNN (imported)",
                                        "checkpoint": str(CHECKPOINT)})


def main(quick: bool = False) -> dict:
    return walkthrough(problem(quick=quick), quick=quick)


if __name__ == "__main__":
    main(quick_flag(__doc__))
