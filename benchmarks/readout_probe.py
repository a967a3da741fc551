"""Probe for the accuracy frontier (issue 11): does a learnt readout over the per-position class distances of the
``cifar10-rf`` receptive fields beat their equal-weight sum? Validation split only; the test set is not read.

    python benchmarks/readout_probe.py --data-dir ../shared/data            # a few minutes on 2 cores
    python benchmarks/readout_probe.py --data-dir ../shared/data --quick    # 6000 training images

The readout is streaming LDA (running class means and a shared covariance: no gradient), learnt prequentially in
the same single pass: each chunk of the stream is first described by the receptive fields as they stand (its
per-position class distances, standardised per image and position), added to the readout's statistics, then
learnt by the receptive fields. Chunks seen before the banks are full are left out of the readout (``--warmup``),
since the distances of a half-empty memory are not those of a full one. Writes ``<out>/readout_probe.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from memorynet import datasets, preset
from memorynet.experiments.continual import SHRINKAGES
from memorynet.experiments.harness import validation_split_indices
from memorynet.experiments.peers import StreamingLDA


def position_features(est, X: np.ndarray) -> np.ndarray:
    """(n, positions * classes): each position's distance to every class, standardised per image and position."""
    images, searchers = est._images(X), est._searchers()
    parts = est._map_positions(lambda p: searchers[p].nearest_per_class(est._bank_rows(images, p),
                                                                        len(est.classes_)))
    F = np.stack(parts, axis=1)
    F = (F - F.mean(axis=2, keepdims=True)) / (F.std(axis=2, keepdims=True) + 1e-6)
    return F.reshape(len(X), -1)


def validation_split(data_dir: str, quick: bool):
    """The unfitted ``cifar10-rf`` pipeline and its preprocessed fit and validation parts of the CIFAR-10
    training set (the harness's split; ``quick``: 6000 and 1000 images). The test set is not read."""
    data = datasets.load("cifar10", data_dir, progress=False)
    fit_rows, val_rows = validation_split_indices(len(data.y_train))  # the validation split of the harness
    if quick:
        fit_rows, val_rows = fit_rows[:6000], val_rows[:1000]
    model = preset("cifar10-rf", random_state=0, pixel_max=data.pixel_max, n_jobs=-1)
    X, X_val = model[0].transform(data.X_train[fit_rows]), model[0].transform(data.X_train[val_rows])
    return model, X, data.y_train[fit_rows], X_val, data.y_train[val_rows]


def write_result(out: str, name: str, result: dict) -> None:
    """``<out>/<name>.json``, and the same on the terminal."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


def run(data_dir: str, quick: bool, chunk: int, warmup: int) -> dict:
    model, X, y, X_val, y_val = validation_split(data_dir, quick)
    est, classes = model[-1], np.unique(y)
    readout = StreamingLDA()
    start = time.perf_counter()
    for begin in range(0, len(X), chunk):
        xs, ys = X[begin:begin + chunk], y[begin:begin + chunk]
        if begin >= warmup:  # predict (describe), then learn
            readout.partial_fit(position_features(est, xs), ys, classes=classes)
        est.partial_fit(xs, ys, classes=classes)
    fit_seconds = time.perf_counter() - start
    summed = float(np.mean(est.classes_[est.class_distances(X_val).argmin(axis=1)] == y_val))
    features = position_features(est, X_val)
    by_shrinkage = {}
    for shrinkage in SHRINKAGES:
        readout.set_params(shrinkage=shrinkage)
        by_shrinkage[shrinkage] = float(np.mean(readout.predict(features) == y_val))
    return {"quick": quick, "n_fit": len(X), "n_validation": len(X_val), "chunk": chunk, "warmup": warmup,
            "fit_seconds": fit_seconds, "validation_summed_distances": summed,
            "validation_lda_readout": by_shrinkage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--chunk", type=int, default=2048)
    parser.add_argument("--warmup", type=int, default=6144, help="images learnt before the readout starts")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    write_result(args.out, "readout_probe", run(args.data_dir, args.quick, args.chunk, args.warmup))


if __name__ == "__main__":
    main()
