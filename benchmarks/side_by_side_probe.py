"""Probe for the accuracy frontier (issue 24): does ``cifar10-best`` gain from receptive fields beside it, learnt in
the same pass? Validation split only; the test set is not read.

    python benchmarks/side_by_side_probe.py --data-dir ../shared/data            # about 10 minutes on 2 cores
    python benchmarks/side_by_side_probe.py --data-dir ../shared/data --quick    # 1500 images, small memories

One side-by-side model holds ``cifar10-best``'s dictionaries and receptive fields on the same standardised pixels
with the ``cifar10-rf`` geometry, once with room for every training image (:data:`FIELD_MEMORIES`: the memory is
the same whatever the order of the classes) and once with a tenth of it (a tenth of the prediction cost). Each
member's standardised evidence on the validation split is computed once; every combination of :data:`WEIGHTS` (the
dictionaries keep 1) then scores the weighted sum. Then the same model learns a class-ordered stream of the same
images (``partial_fit`` over 5 tasks of 2 classes, each label first met in its task: the ``unannounced`` stream of
``benchmarks/class_order.py``) and is scored again at every weighting: does the pair keep the promise? Writes
``<out>/side_by_side_probe.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from memorynet import datasets
from memorynet.experiments.continual import split_tasks
from memorynet.experiments.harness import validation_split_indices
from memorynet.models import preprocessing
from memorynet.models.presets import PRESETS
from memorynet.models.side_by_side import SideBySideClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling probe's scoring of weightings and its table
from multiscale_probe import fitted_evidence, weighting_scores, weighting_table  # noqa: E402

FIELD_MEMORIES = (50000, 5000)  # neurons per position of each receptive-field member
FIELD_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)  # the weight of each member's evidence beside the dictionaries'
WEIGHTS = ((1.0,), *[FIELD_WEIGHTS] * len(FIELD_MEMORIES))
QUICK = {"fit": 1500, "validation": 300, "memories": (1500, 150),
         "codes": {"max_neurons": 32, "warmup": 300, "whiten_images": 100}}


def members(quick: bool) -> list:
    """``cifar10-best``'s dictionaries, then the receptive fields of ``cifar10-rf``'s geometry at each memory."""
    codes = dict(next(params for kind, params in PRESETS["cifar10-best"][2]["members"] if kind == "codes"))
    fields = {k: v for k, v in PRESETS["cifar10-rf"][2].items() if k in ("patch_size", "stride")}
    memories = QUICK["memories"] if quick else FIELD_MEMORIES
    return [["codes", {**codes, **(QUICK["codes"] if quick else {})}],
            *[["receptive-fields", {**fields, "max_neurons": memory}] for memory in memories]]


def run(data_dir: str, quick: bool) -> dict:
    data = datasets.load("cifar10", data_dir, progress=False)
    fit_rows, val_rows = validation_split_indices(len(data.y_train))  # the validation split of the harness
    if quick:
        fit_rows, val_rows = fit_rows[:QUICK["fit"]], val_rows[:QUICK["validation"]]
    chain = PRESETS["cifar10-best"][0]
    X, X_val = (preprocessing.apply(chain, data.X_train[rows], data.pixel_max) for rows in (fit_rows, val_rows))
    y, y_val = data.y_train[fit_rows], data.y_train[val_rows]
    model = SideBySideClassifier(members=members(quick), n_jobs=-1, random_state=0)
    fit_seconds, evidence, evidence_seconds = fitted_evidence(model, X, y, X_val)
    scores, alone = weighting_scores(model.classes_, evidence, y_val, WEIGHTS)
    learnt, classes = model.members, model.classes_
    del model, evidence  # the class-ordered model's turn (the fields' memories take gigabytes)
    ordered = SideBySideClassifier(members=members(quick), n_jobs=-1, random_state=0)
    for task in split_tasks(y):  # the classes two by two, each task's images shuffled
        rows = np.random.default_rng(0).permutation(np.flatnonzero(np.isin(y, task)))
        ordered.partial_fit(X[rows], y[rows])
    assert np.array_equal(ordered.classes_, classes)
    ordered_scores, ordered_alone = weighting_scores(classes, ordered.member_evidence(X_val), y_val, WEIGHTS)
    for score, after in zip(scores, ordered_scores):  # the same weightings, in the same order
        score["class_ordered_accuracy"] = after["accuracy"]
    best_with = [max((s for s in scores if all((w > 0) == (i == m) for i, w in enumerate(s["weights"][1:]))),
                     key=lambda s: s["accuracy"]) for m in range(len(FIELD_MEMORIES))]  # one field member each
    return {"quick": quick, "members": learnt, "n_fit": len(y), "n_validation": len(y_val),
            "fit_seconds": fit_seconds, "evidence_seconds": evidence_seconds, "each_member_alone": alone,
            "each_member_alone_class_ordered": ordered_alone, "n_weightings": len(scores),
            "best_with_each_field": best_with, "best": max(scores, key=lambda s: s["accuracy"]), "scores": scores}


def markdown(result: dict) -> str:
    """The probe's table: each member alone, the dictionaries with each receptive-field member at its best weight,
    the best weighting of all three (validation accuracies), and the same after the class-ordered stream (at the
    weights the i.i.d. stream chose)."""
    fields = [f"the dictionaries and the fields of {m[1]['max_neurons']} neurons" for m in result["members"][1:]]
    rows = [*zip(fields, result["best_with_each_field"]),
            (f"the best of the {result['n_weightings']} weightings", result["best"])]
    ordered = (result["each_member_alone_class_ordered"], [row["class_ordered_accuracy"] for _, row in rows])
    return weighting_table(result, rows, ordered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--quick", action="store_true", help="1500 training images, small memories")
    args = parser.parse_args()
    result = run(args.data_dir, args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "side_by_side_probe.json").write_text(json.dumps(result, indent=1))
    print(markdown(result))


if __name__ == "__main__":
    main()
