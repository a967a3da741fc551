"""Probe for the accuracy frontier (issues 11 and 24): does a readout learnt over the per-position class distances of
a preset's receptive fields beat their equal-weight sum? Validation split only; the test set is not read.

    python benchmarks/readout_probe.py --data-dir ../shared/data --preset mnist-best   # about 5 minutes on 2 cores
    python benchmarks/readout_probe.py --data-dir ../shared/data                       # cifar10-rf (issue 11)
    python benchmarks/readout_probe.py --data-dir ../shared/data --quick               # 6000 training images

The fields are the preset's (of a side-by-side preset, its receptive-field member), on its preprocessing. Two
readouts, neither with a gradient, learn prequentially in the same single pass: each chunk of the stream is first
described by the fields as they stand (each position's squared distance to the nearest neuron of every class),
added to the readouts' statistics, then learnt by the fields. Chunks seen before ``--warmup`` images are left out
of the readouts, since the distances of a nearly empty memory are not those of a full one.

- **Streaming LDA** (running class means and a shared covariance) over the distances standardised per image and
  position: a classifier of its own over positions x classes features.
- **Position weights**: the summed distances with one learnt weight per position instead of equal ones. Fisher's
  discriminant between the true class's vector of per-position distances and every other class's (running counts,
  means and scatters of the two groups; a closed-form solve, the scatter shrunk toward its mean variance) gives
  the weights; the class with the smallest weighted sum wins.

Both are scored on validation at every shrinkage of :data:`SHRINKAGES`, beside the fields' own equal-weight sum.
Writes ``<out>/readout_probe.json`` and ``.md`` and prints the table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from memorynet import datasets, preset
from memorynet.experiments.harness import validation_split_indices, write_report
from memorynet.experiments.peers import StreamingLDA
from memorynet.models.presets import PRESETS
from memorynet.models.side_by_side import SideBySideClassifier

SHRINKAGES = (1e-4, 1e-3, 1e-2, 1e-1, 0.5, 1.0)  # 1: the covariance's mean variance alone
FIELD_PRESETS = ("cifar10-rf", "mnist-rf", "mnist-best", "cifar10-best")  # presets with receptive fields
QUICK = {"fit": 6000, "validation": 1000}


def position_distances(est, X: np.ndarray) -> np.ndarray:
    """(n, positions, classes): each position's squared distance to the nearest neuron of every class."""
    images, searchers = est._images(X), est._searchers()
    parts = est._map_positions(lambda p: searchers[p].nearest_per_class(est._bank_rows(images, p),
                                                                        len(est.classes_)))
    return np.stack(parts, axis=1)


def standardised(distances: np.ndarray) -> np.ndarray:
    """(n, positions * classes): the distances standardised per image and position (the LDA readout's features)."""
    F = (distances - distances.mean(axis=2, keepdims=True)) / (distances.std(axis=2, keepdims=True) + 1e-6)
    return F.reshape(len(F), -1)


class PositionWeights:
    """Running statistics of the per-position distances of each image's true class (``true``) and of its other
    classes (``other``); :meth:`weights` solves Fisher's discriminant between the two groups."""

    def __init__(self, n_positions: int):
        self.counts = np.zeros(2)
        self.sums = np.zeros((2, n_positions))
        self.products = np.zeros((2, n_positions, n_positions))

    def partial_fit(self, distances: np.ndarray, y_index: np.ndarray) -> PositionWeights:
        """Add the images' (n, positions, classes) distances; ``y_index``: each image's class column. Images with
        a class of no neuron (an infinite distance) are left out."""
        finite = np.isfinite(distances).all(axis=(1, 2))
        D, rows = distances[finite].astype(np.float64), np.flatnonzero(finite)
        true = D[np.arange(len(D)), :, y_index[rows]]
        others = np.ones(D.shape[::2], dtype=bool)
        others[np.arange(len(D)), y_index[rows]] = False
        other = D.transpose(0, 2, 1)[others]
        for group, values in enumerate((true, other)):
            self.counts[group] += len(values)
            self.sums[group] += values.sum(axis=0)
            self.products[group] += values.T @ values
        return self

    def weights(self, shrinkage: float) -> np.ndarray:
        """(positions,) weights, scaled to sum to the number of positions: the pooled covariance of the two groups,
        shrunk toward its mean variance by ``shrinkage``, solved against the difference of their means."""
        means = self.sums / self.counts[:, None]
        scatter = sum(self.products[g] / self.counts[g] - np.outer(means[g], means[g]) for g in range(2))
        target = np.eye(len(scatter)) * np.trace(scatter) / len(scatter)
        w = np.linalg.solve((1 - shrinkage) * scatter + shrinkage * target, means[1] - means[0])
        return w * len(w) / w.sum()


def validation_split(data_dir: str, quick: bool, name: str = "cifar10-rf"):
    """The unfitted receptive fields of preset ``name`` (of a side-by-side preset, its receptive-field member) and
    their preprocessed fit and validation parts of the training set (the harness's split; ``quick``:
    :data:`QUICK`'s sizes). The test set is not read."""
    data = datasets.load(name.split("-")[0], data_dir, progress=False)
    fit_rows, val_rows = validation_split_indices(len(data.y_train))  # the validation split of the harness
    if quick:
        fit_rows, val_rows = fit_rows[:QUICK["fit"]], val_rows[:QUICK["validation"]]
    member = "receptive-fields" if PRESETS[name][1] is SideBySideClassifier else None
    model = preset(name, random_state=0, pixel_max=data.pixel_max, member=member, n_jobs=-1)
    X, X_val = model[0].transform(data.X_train[fit_rows]), model[0].transform(data.X_train[val_rows])
    return model, X, data.y_train[fit_rows], X_val, data.y_train[val_rows]


def run(data_dir: str, quick: bool, chunk: int, warmup: int, name: str = "cifar10-rf") -> dict:
    model, X, y, X_val, y_val = validation_split(data_dir, quick, name)
    if not 0 <= warmup < len(X):
        raise ValueError(f"warmup={warmup} leaves the readouts no image of the {len(X)} learnt; pass a smaller "
                         "--warmup")
    est, classes = model[-1], np.unique(y)
    lda, weighted = StreamingLDA(), None
    start = time.perf_counter()
    for begin in range(0, len(X), chunk):
        xs, ys = X[begin:begin + chunk], y[begin:begin + chunk]
        if begin >= warmup:  # predict (describe), then learn
            distances = position_distances(est, xs)
            lda.partial_fit(standardised(distances), ys, classes=classes)
            if weighted is None:
                weighted = PositionWeights(distances.shape[1])
            weighted.partial_fit(distances, np.searchsorted(est.classes_, ys))
        est.partial_fit(xs, ys, classes=classes)
    fit_seconds = time.perf_counter() - start
    distances = position_distances(est, X_val)
    equal_sums = np.zeros(distances.shape[::2])
    for part in distances.transpose(1, 0, 2):  # in position order, in float64, as the model's class_distances adds
        equal_sums += part
    summed = float(np.mean(est.classes_[equal_sums.argmin(axis=1)] == y_val))
    features, lda_scores, weight_scores, weight_spread = standardised(distances), {}, {}, {}
    for shrinkage in SHRINKAGES:
        lda.set_params(shrinkage=shrinkage)
        lda_scores[shrinkage] = float(np.mean(lda.predict(features) == y_val))
        w = weighted.weights(shrinkage)
        weighted_sums = np.einsum("npc,p->nc", distances, w)
        weight_scores[shrinkage] = float(np.mean(est.classes_[weighted_sums.argmin(axis=1)] == y_val))
        weight_spread[shrinkage] = [float(w.min()), float(w.max())]
    return {"preset": name, "quick": quick, "n_fit": len(X), "n_validation": len(X_val), "chunk": chunk,
            "warmup": warmup, "positions": distances.shape[1], "fit_seconds": fit_seconds,
            "validation_summed_distances": summed, "validation_lda_readout": lda_scores,
            "validation_position_weights": weight_scores, "position_weight_range": weight_spread}


def markdown(result: dict) -> str:
    """The probe's table: the fields' equal-weight sum beside each learnt readout, at every shrinkage."""
    lines = [f"Validation split: `{result['preset']}`'s receptive fields ({result['positions']} positions) learn "
             f"{result['n_fit']} images once, the readouts those after the first {result['warmup']}; "
             f"{result['n_validation']} images scored.", "",
             "| readout | shrinkage | validation accuracy | learnt weights (least, largest) |", "|---|---:|---:|---|",
             f"| the fields' summed distances (equal weights: the preset) | | "
             f"{100 * result['validation_summed_distances']:.2f} % | |"]
    for shrinkage, accuracy in result["validation_position_weights"].items():
        low, high = result["position_weight_range"][shrinkage]
        lines.append(f"| summed distances, a learnt weight per position | {float(shrinkage):g} | "
                     f"{100 * accuracy:.2f} % | {low:.2f}, {high:.2f} |")
    for shrinkage, accuracy in result["validation_lda_readout"].items():
        lines.append(f"| streaming LDA over the standardised distances | {float(shrinkage):g} | "
                     f"{100 * accuracy:.2f} % | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--preset", default="cifar10-rf", choices=FIELD_PRESETS,
                        help="whose receptive fields (of a side-by-side preset, its receptive-field member)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK['fit']} training images")
    parser.add_argument("--chunk", type=int, default=2048)
    parser.add_argument("--warmup", type=int, default=6144, help="images learnt before the readouts start")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    result = run(args.data_dir, args.quick, args.chunk, args.warmup, args.preset)
    write_report(args.out, "readout_probe", result, markdown(result), sort_keys=False)


if __name__ == "__main__":
    main()
