"""Probe for the accuracy frontier (issue 24): do the receptive fields of the frontier's MNIST pair gain from
other fixed preprocessing or another distance, alone or beside the pair? Validation split only; the test set is not
read.

    python benchmarks/field_chains_probe.py --data-dir ../shared/data            # about 6 minutes on 2 cores
    python benchmarks/field_chains_probe.py --data-dir ../shared/data --quick    # 1000 training images, less memory

The pair (the frontier's side-by-side row on MNIST, once ``mnist-best``: its receptive fields and dictionaries on
deskewed digits, difference of Gaussians, standardised) learns the frontier's fit split; receptive fields of the
same geometry and memory then learn the same images under each of :data:`VARIANTS` (a fixed chain without the
difference of Gaussians, local contrast normalisation instead, or the cosine distance on the pair's chain: all
parameter-free, so the rules allow them). Each model's standardised evidence on the validation split is computed
once; every combination of :data:`WEIGHTS` then scores the weighted sum (the pair with the variants' weights at zero
is the baseline). Writes ``<out>/field_chains_probe.json`` (the best :data:`KEPT` scores); ``--quick`` says so in
the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from memorynet.models.side_by_side import SideBySideClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling probe's scoring of weightings and its table
from multiscale_probe import (  # noqa: E402
    PAIR,
    PAIR_CHAIN,
    fitted_evidence,
    pair_members,
    probe_main,
    validation_split,
    weighting_scores,
    weighting_table,
)

# (preprocessing chain, distance) of each variant of the pair's receptive fields
VARIANTS = (("deskew+standardize", "l2"), ("deskew+lcn", "l2"), ("deskew+dog+standardize", "cosine"))
# the pair's receptive fields keep 1, its dictionaries take one of the frontier's side-by-side weights, each
# variant one of the last choices
WEIGHTS = ((1.0,), (0.0, 0.02, 0.05, 0.1), *[(0.0, 0.25, 0.5, 1.0)] * len(VARIANTS))
KEPT = 20  # scores kept in the results file, best first


def run(data_dir: str, quick: bool) -> dict:
    images = validation_split(data_dir, quick)

    def fitted(members: list, chain: str) -> tuple[SideBySideClassifier, np.ndarray, float, list, float]:
        """The side-by-side model of ``members`` fitted on ``chain``'s images; the validation labels; then as
        :func:`fitted_evidence`."""
        X, y, X_val, y_val = images(chain)
        model = SideBySideClassifier(members=members, n_jobs=-1, random_state=0)
        return model, y_val, *fitted_evidence(model, X, y, X_val)

    members = pair_members(quick)
    model, y_val, fit_seconds, evidence, evidence_seconds = fitted(members, PAIR_CHAIN)
    for chain, distance in VARIANTS:
        variant = [["receptive-fields", {**members[0][1], "distance": distance}]]
        _, _, seconds, more, more_seconds = fitted(variant, chain)
        members, evidence = [*members, [f"receptive-fields on {chain}", variant[0][1]]], [*evidence, *more]
        fit_seconds, evidence_seconds = fit_seconds + seconds, evidence_seconds + more_seconds
    scores, alone = weighting_scores(model.classes_, evidence, y_val, WEIGHTS)
    baseline = next(s for s in scores if s["weights"] == [*PAIR["weights"], *[0.0] * len(VARIANTS)])
    ranked = sorted(scores, key=lambda s: -s["accuracy"])  # stable: the first of equals keeps its place
    return {"quick": quick, "members": members, "n_fit": int(model.n_samples_seen_), "n_validation": len(y_val),
            "fit_seconds": fit_seconds, "evidence_seconds": evidence_seconds, "each_member_alone": alone,
            "n_weightings": len(scores), "preset_pair": baseline, "best": ranked[0], "scores": ranked[:KEPT]}


def markdown(result: dict) -> str:
    """The probe's table: each model alone, the frontier's pair, the best weighted sum (validation accuracies)."""
    return weighting_table(result, [("the frontier's pair (the variants weighted 0)", result["preset_pair"]),
                                    (f"the best of the {result['n_weightings']} weightings", result["best"])],
                           fits="the frontier's pair in one pass, each variant in a pass of its own over the same "
                                "images")


def main() -> None:
    probe_main("field_chains_probe", __doc__, run, markdown)


if __name__ == "__main__":
    main()
