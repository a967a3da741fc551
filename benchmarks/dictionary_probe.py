"""Probe for the accuracy frontier (issue 11): per-position prototype dictionaries learnt without labels by the
Memory Network's own rule, soft "triangle" codes, and a streaming-LDA readout, all in one pass. Validation split
only; the test set is not read.

    python benchmarks/dictionary_probe.py --data-dir ../shared/data --prototypes 128     # about a minute per 10k
    python benchmarks/dictionary_probe.py --data-dir ../shared/data --quick               # 6000 images, seconds

Each receptive field (the ``cifar10-best`` preset's: 8 x 8 patches every 4 pixels on opponent, standardised
colours) keeps its own dictionary: a :class:`memorynet.MemoryNetworkClassifier` given one label, so it grows a
prototype per patch while there is room and then moves the nearest prototype to the running mean — online k-means,
no weight shared between positions. A patch is coded by ``max(0, mean(z) - z_k)``, ``z_k`` its distance to
prototype ``k`` (Coates & Ng's triangle code). The readout is learnt prequentially in the same pass: once the
dictionaries are full (``--warmup`` images), each chunk is coded by the dictionaries as they stand and added to a
streaming LDA (class means and a shared covariance; shrinkage chosen on the validation split), and then teaches
the dictionaries. Writes ``<out>/dictionary_probe.json``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from readout_probe import validation_split, write_result  # this folder is on the path when the script runs

from memorynet import MemoryNetworkClassifier, kernels
from memorynet.continual import SHRINKAGES
from memorynet.peers import StreamingLDA


def triangle_codes(patches: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """(n, K): how much closer than average each prototype is to each patch, zero where farther."""
    distances = np.sqrt(kernels.pairwise_distances(patches, prototypes))
    return np.maximum(distances.mean(axis=1, keepdims=True) - distances, 0.0)


class PositionDictionaries:
    """One unlabelled Memory Network per receptive field of ``est`` (a fitted-shape receptive-field model)."""

    def __init__(self, est, prototypes: int):
        self.est, self.prototypes = est, prototypes
        self.memories = [MemoryNetworkClassifier(prototypes, shuffle=False, search_backend="numpy")
                         for _ in range(len(est.corners_))]

    def _patches(self, X: np.ndarray, position: int) -> np.ndarray:
        return self.est._bank_rows(self.est._images(X), position)

    def learn(self, X: np.ndarray) -> None:
        self.est._map_positions(lambda p: self.memories[p].partial_fit(self._patches(X, p), np.zeros(len(X), int)))

    def full(self) -> bool:
        return all(m.n_neurons_ >= self.prototypes for m in self.memories)

    def codes(self, X: np.ndarray) -> np.ndarray:
        parts = self.est._map_positions(
            lambda p: triangle_codes(self._patches(X, p), self.memories[p].banks_[0].memories))
        return np.concatenate(parts, axis=1)


def run(data_dir: str, quick: bool, prototypes: int, chunk: int, warmup: int) -> dict:
    model, X, y, X_val, y_val = validation_split(data_dir, quick)
    est = model[-1].fit(X[:10], y[:10])  # only to lay out the receptive fields over the image shape
    dictionaries, readout, classes = PositionDictionaries(est, prototypes), StreamingLDA(), np.unique(y)
    start = time.perf_counter()
    for begin in range(0, len(X), chunk):
        xs, ys = X[begin:begin + chunk], y[begin:begin + chunk]
        if begin >= warmup and dictionaries.full():  # describe with the dictionaries as they stand, then teach
            readout.partial_fit(dictionaries.codes(xs), ys, classes=classes)
        dictionaries.learn(xs)
    fit_seconds = time.perf_counter() - start
    codes = dictionaries.codes(X_val)
    by_shrinkage = {}
    for shrinkage in SHRINKAGES:
        readout.shrinkage = shrinkage
        by_shrinkage[str(shrinkage)] = float(np.mean(readout.predict(codes) == y_val))
    return {"n_fit": len(X), "n_validation": len(X_val), "prototypes_per_position": prototypes,
            "positions": len(est.corners_), "features": int(codes.shape[1]), "warmup": warmup, "chunk": chunk,
            "fit_seconds": fit_seconds, "validation_accuracy_by_shrinkage": by_shrinkage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--quick", action="store_true", help="6000 training and 1000 validation images")
    parser.add_argument("--prototypes", type=int, default=128, help="dictionary size per position")
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=5000, help="images that teach only the dictionaries")
    args = parser.parse_args()
    write_result(args.out, "dictionary_probe",
                 run(args.data_dir, args.quick, args.prototypes, args.chunk, args.warmup))


if __name__ == "__main__":
    main()
