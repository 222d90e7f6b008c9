"""predict -> sweep -> explain -> limit on any Problem: what every example runs on its model."""

from __future__ import annotations

import argparse

import jax

from phasetrans.applications import attribution, compare, limit, methods, report
from phasetrans.networks import stationarity, witnesses
from phasetrans.networks.problem import Problem
from phasetrans.theory import predict

QUICK = {
    "predict": predict.PredictOptions(
        ellipsoid_options=predict.EllipsoidOptions(num_ratios=3, num_samples=8),
        l1_body_options=predict.L1BodyOptions(max_dim=0)),
    "attribution": attribution.AttributionOptions(
        num_ratios=11, subspace_ratios=3, num_subspaces=4, l1_max_dim=0, l1_support_max_dim=0,
        retrain_ratios=6, retrain_steps=50),
    "limit": witnesses.SearchOptions(
        stop=stationarity.StopRule(window=100, check_every=50, max_steps=300), resolution=0.1),
}
"""The small size of ``--quick`` (and of tests/test_examples.py): a few Monte Carlo samples,
no l1-body solves, short retraining, a witness search of at most 300 steps per retraining
located to 0.1 in removal ratio."""


def quick_flag(description: str) -> bool:
    """Parse ``--quick`` for an example's ``__main__``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="the small size the tests run")
    return parser.parse_args().quick


def walkthrough(problem: Problem, *, quick: bool) -> dict:
    """The prediction (with the premise check), the sweep of three pruning methods, the
    attribution ladder and the limit test (masked retraining's witnesses: is the prediction a
    limit?) of ``problem``; prints each summary and returns the four documents."""
    comparison = compare.assess(problem, key=jax.random.key(0),
                                options=QUICK["predict"] if quick else None,
                                num_sweep_ratios=11 if quick else 101,
                                further_steps=100 if quick else 2000)
    documents = {"predict": report.comparison_json(comparison)}
    print("\n".join(report.summary_lines(documents["predict"])))
    swept = methods.sweep_methods(comparison, methods=["global", "layerwise", "random"],
                                  key=jax.random.key(1), num_ratios=6 if quick else 51)
    documents["sweep"] = report.methods_json(swept)
    print("\n".join(report.methods_lines(documents["sweep"])))
    explained = attribution.attribute(comparison, key=jax.random.key(2),
                                      options=QUICK["attribution"] if quick else None)
    documents["explain"] = report.attribution_json(explained)
    print("\n".join(report.attribution_lines(documents["explain"])))
    tested = limit.limit_test(comparison, key=jax.random.key(0), searches=("retrain",),
                              options=QUICK["limit"] if quick else None)
    documents["limit"] = limit.limit_json(tested)
    print("\n".join(limit.limit_lines(documents["limit"])))
    return documents
