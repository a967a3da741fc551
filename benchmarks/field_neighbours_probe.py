"""Probe for the accuracy frontier (issue 24): is the frontier's MNIST pair's evidence better when each position
gives, for each class, the mean distance to its several nearest neurons rather than to the nearest alone?
Validation split only; the test set is not read.

    python benchmarks/field_neighbours_probe.py --data-dir ../shared/data           # about 8 minutes on 2 cores
    python benchmarks/field_neighbours_probe.py --data-dir ../shared/data --quick   # 1000 training images

The pair (the frontier's side-by-side row on MNIST, once ``mnist-best``: its receptive fields with room for every
training patch, and its dictionaries) learns the frontier's fit split once. The fields' memory is then read at
prediction with each of :data:`NEIGHBOURS`: at every position, for every class, the mean of the distances to that
class's ``k`` nearest neurons, summed over the positions, each distance squared (``k = 1`` squared is the pair's
rule) or as it is (:data:`READINGS`). Nothing is learnt differently (the memory, and so the promise on class order,
is the pair's); only the reading changes. Each reading is scored alone and beside the dictionaries' standardised
evidence at each of :data:`WEIGHTS`. Writes ``<out>/field_neighbours_probe.json``; ``--quick`` says so in the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from memorynet.engine.kernels import nearest_neurons
from memorynet.models.receptive_fields import LocalReceptiveFieldClassifier
from memorynet.models.side_by_side import SideBySideClassifier, combined_evidence, standardised_evidence

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling probe's members, fit and command line
from multiscale_probe import PAIR, fitted_evidence, pair_members, probe_main, validation_split  # noqa: E402

NEIGHBOURS = (1, 2, 3, 5, 8)  # nearest neurons per class and position whose distances are averaged
# how a distance enters the mean: squared (the pair's class distances sum squared L2 distances) or as it is
READINGS = {"squared L2": lambda squared: squared, "L2": np.sqrt}
WEIGHTS = (0.02, 0.05, 0.1, 0.2)  # the dictionaries' weight beside the fields (the frontier's side-by-side choices)


def nearest_per_class_sorted(rows: np.ndarray, memories: np.ndarray, classes: np.ndarray, n_classes: int,
                             deepest: int) -> np.ndarray:
    """(n, n_classes, deepest): each row's squared L2 distances to each class's ``deepest`` nearest neurons, nearest
    first (``inf`` past a class's last neuron), from the engine's search of each class's neurons."""
    out = np.full((len(rows), n_classes, deepest), np.inf)
    for c in range(n_classes):
        mine = memories[classes == c]
        if len(mine):
            found = nearest_neurons(rows, mine, deepest)[0]  # as many as the class has, at most ``deepest``
            out[:, c, :found.shape[1]] = found
    return out


def neighbour_distances(fields: LocalReceptiveFieldClassifier, X: np.ndarray) -> dict[str, np.ndarray]:
    """Per reading of :data:`READINGS`, (len(NEIGHBOURS), n, n_classes): for each ``k`` of :data:`NEIGHBOURS`, the
    mean of each class's ``k`` nearest distances at every position of the fitted ``fields``, summed over positions."""
    images, n_classes = fields._images(X), len(fields.classes_)
    parts = fields._map_positions(lambda p: nearest_per_class_sorted(
        fields._bank_rows(images, p), fields.banks_[p].memories, fields.banks_[p].classes, n_classes,
        max(NEIGHBOURS)))
    ks = np.array(NEIGHBOURS)
    return {name: np.sum([np.moveaxis(np.cumsum(reading(part), axis=2)[:, :, ks - 1] / ks, 2, 0) for part in parts],
                         axis=0) for name, reading in READINGS.items()}


def run(data_dir: str, quick: bool) -> dict:
    X, y, X_val, y_val = validation_split(data_dir, quick)()
    model = SideBySideClassifier(members=pair_members(quick), n_jobs=-1, random_state=0)
    fit_seconds, (preset_fields, codes), evidence_seconds = fitted_evidence(model, X, y, X_val)
    distances = neighbour_distances(model.estimators_[0], X_val)

    def accuracy(scores: np.ndarray) -> float:
        return float(np.mean(model.classes_[np.argmax(scores, axis=1)] == y_val))
    rows, preset_weight = [], PAIR["weights"][1]
    for name, by_depth in distances.items():
        for k, summed in zip(NEIGHBOURS, by_depth):
            fields = standardised_evidence(summed, larger_is_better=False)
            rows.append({"reading": name, "neighbours": k, "alone": accuracy(fields),
                         "at_preset_weight": accuracy(combined_evidence([fields, codes], [1.0, preset_weight])),
                         "beside": [{"weight": w, "accuracy": accuracy(combined_evidence([fields, codes], [1.0, w]))}
                                    for w in WEIGHTS]})
    # the pair's reading, recomputed here: its decisions must be the model's own (float rounding aside)
    preset_reading = distances["squared L2"][NEIGHBOURS.index(1)]
    same = float(np.mean(np.argmax(preset_fields, axis=1) == np.argmin(preset_reading, axis=1)))
    return {"quick": quick, "members": model.members, "n_fit": len(y), "n_validation": len(y_val),
            "fit_seconds": fit_seconds, "evidence_seconds": evidence_seconds, "nearest_one_agrees": same,
            "preset_weight": preset_weight, "rows": rows}


def markdown(result: dict) -> str:
    """The probe's table: each reading of the fields alone and beside the dictionaries (validation accuracies)."""
    lines = [f"Validation split: {result['n_fit']} images learnt, {result['n_validation']} scored; one fit of the "
             f"frontier's MNIST pair ({result['fit_seconds']:.0f} s). The recomputed nearest-neuron reading takes the "
             f"model's own decision on {100 * result['nearest_one_agrees']:.2f} % of the images.", "",
             "| distance | nearest neurons averaged per class and position | the fields alone | beside the "
             f"dictionaries, at the pair's weight ({result['preset_weight']:g}) | beside the dictionaries, best "
             "weight |",
             "|---|---:|---:|---:|---:|"]
    for row in result["rows"]:
        best = max(row["beside"], key=lambda b: b["accuracy"])
        lines.append(f"| {row['reading']} | {row['neighbours']} | {100 * row['alone']:.2f} % | "
                     f"{100 * row['at_preset_weight']:.2f} % | {100 * best['accuracy']:.2f} % ({best['weight']:g}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    probe_main("field_neighbours_probe", __doc__, run, markdown)


if __name__ == "__main__":
    main()
