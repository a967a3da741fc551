"""Probe for the accuracy frontier (issue 24): receptive fields whose banks also learn the patches around their
position (``patch_jitter``), on ``mnist-best``'s deskewed digits. Validation split only; the test set is not read.

    python benchmarks/field_jitter_probe.py --data-dir ../shared/data           # about 10 minutes on 2 cores
    python benchmarks/field_jitter_probe.py --data-dir ../shared/data --quick   # 1000 training images

For each of :data:`GEOMETRIES` (patch size, stride, jitter), receptive fields with room for every patch they are
taught (each class's fair share of the memory holds all its patches, so nothing merges and the order of the classes
changes nothing) learn the frontier's fit split once and are scored alone on its validation images, by the summed
class distances. A bank is searched with its own position's patch only, so the prediction's cost grows with the
neurons the banks hold: each row gives the seconds of the fit and of the validation images' prediction, and the
peak of the allocations traced over both (as the frontier's table reports them), on the fit split's sizes. Writes
``<out>/field_jitter_probe.json``; ``--quick`` says so in the file.
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np

from memorynet.experiments.evaluation import timed_fit_predict
from memorynet.models.receptive_fields import LocalReceptiveFieldClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling probe's split and command line
from multiscale_probe import probe_main, validation_split  # noqa: E402

# (patch size, stride, patch_jitter): the preset's geometry and coarser grids, each without and with jitter
GEOMETRIES = ((10, 4, 0), (10, 4, 1), (10, 6, 0), (10, 6, 1), (10, 9, 0), (10, 9, 1))


def room_for_every_patch(y: np.ndarray, patch_jitter: int) -> int:
    """A memory budget whose fair share per class holds every patch of the largest class."""
    counts = np.unique(y, return_counts=True)[1]
    return int((2 * patch_jitter + 1) ** 2 * len(counts) * counts.max())


def run(data_dir: str, quick: bool) -> dict:
    X, y, X_val, y_val = validation_split(data_dir, quick)()
    rows = []
    for patch_size, stride, jitter in GEOMETRIES:
        fields = LocalReceptiveFieldClassifier(patch_size, stride, room_for_every_patch(y, jitter),
                                               patch_jitter=jitter, random_state=0, n_jobs=-1)
        tracemalloc.start()
        try:
            predicted, fit_seconds, predict_seconds = timed_fit_predict(fields, X, y, X_val)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        rows.append({"patch_size": patch_size, "stride": stride, "patch_jitter": jitter,
                     "positions": len(fields.banks_), "neurons": int(fields.n_neurons_),
                     "fit_seconds": fit_seconds, "predict_seconds": predict_seconds, "peak_mb": peak / 2**20,
                     "merged": int(len(X) * sum(len(fields._neighbourhood(p)) for p in range(len(fields.banks_)))
                                   - fields.n_neurons_),
                     "accuracy": float(np.mean(predicted == y_val))})
        print(rows[-1], flush=True)
    return {"quick": quick, "n_fit": len(X), "n_validation": len(X_val), "rows": rows}


def markdown(result: dict) -> str:
    """The probe's table: each geometry's validation accuracy and the neurons its banks hold."""
    lines = [f"Validation split: {result['n_fit']} images learnt, {result['n_validation']} scored; receptive fields "
             "alone, room for every patch.", "",
             "| patch | stride | jitter | positions | neurons held | merged patches | validation accuracy | fit s "
             "| predict s | traced peak MB |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['patch_size']} | {r['stride']} | {r['patch_jitter']} | {r['positions']} | {r['neurons']} | "
                     f"{r['merged']} | {100 * r['accuracy']:.2f} % | {r['fit_seconds']:.1f} | "
                     f"{r['predict_seconds']:.1f} | {r['peak_mb']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    probe_main("field_jitter_probe", __doc__, run, markdown)


if __name__ == "__main__":
    main()
