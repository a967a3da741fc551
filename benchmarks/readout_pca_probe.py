"""Probe for the cost issue (issue 25, target 1): what a cheaper readout costs ``cifar10-best``'s dictionaries (its
prototype-code member) in accuracy. Validation split only; the test set is not read.

    python benchmarks/readout_pca_probe.py --data-dir ../shared/data            # about 12 minutes on 2 cores
    python benchmarks/readout_pca_probe.py --data-dir ../shared/data --quick    # 1500 images, small dictionaries

The readout's statistics grow with the square of the code length (positions x prototypes) and its solve with the
cube. Here each position's codes go through that position's principal components (learnt from the codes of the
first :data:`PCA_IMAGES` images after the dictionaries' warm-up, then fixed: accumulated statistics and an
eigendecomposition, no gradient, nothing shared between positions) before the streaming LDA, keeping
:data:`COMPONENTS` of each position's prototypes; the full codes are the control, in the same run. The dictionaries
learn their warm-up as the preset does; every readout then learns the same images in the same order. Writes
``<out>/readout_pca_probe.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from memorynet import datasets, preset
from memorynet.experiments.frontier import SHRINKAGES
from memorynet.experiments.harness import validation_split_indices
from memorynet.models.readout import StreamingLDA

COMPONENTS = (64, 128, 256, None)  # kept per position; None: the full codes (the control)
PCA_IMAGES = 5000  # images after the warm-up whose codes give each position's components
CHUNK = 1000  # images per readout update, as the preset's batch
QUICK = {"fit": 1500, "validation": 300, "components": (8, 16, None), "pca_images": 500,
         "model": {"max_neurons": 32, "warmup": 500, "whiten_images": 200}}


def position_components(codes: np.ndarray, positions: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per position: (mean, the ``k`` leading principal directions as columns) of its block of ``codes``."""
    width, out = codes.shape[1] // positions, []
    for p in range(positions):
        block = codes[:, p * width:(p + 1) * width].astype(np.float64)
        _, vectors = np.linalg.eigh(np.cov(block, rowvar=False))
        out.append((block.mean(axis=0).astype(np.float32), vectors[:, ::-1][:, :k].astype(np.float32)))
    return out


def projected(codes: np.ndarray, components: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Each position's block of ``codes`` centred and projected on its components, side by side."""
    width = codes.shape[1] // len(components)
    return np.concatenate([(codes[:, p * width:(p + 1) * width] - mean) @ vectors
                           for p, (mean, vectors) in enumerate(components)], axis=1)


def readout_scores(F: np.ndarray, y: np.ndarray, F_val: np.ndarray, y_val: np.ndarray,
                   shrinkages: tuple[float, ...] = SHRINKAGES) -> dict:
    """Streaming LDA learnt chunk by chunk on ``F``; its seconds and its validation accuracy at every one of
    ``shrinkages``."""
    start = time.perf_counter()
    lda = StreamingLDA(shrinkages[0], chunk_precision="float32")
    for s in range(0, len(F), CHUNK):
        lda.partial_fit(F[s:s + CHUNK], y[s:s + CHUNK], classes=np.unique(y))
    row = {"features": F.shape[1], "statistics_seconds": time.perf_counter() - start, "accuracy": {},
           "predict_seconds": {}}
    for shrinkage in shrinkages:
        start = time.perf_counter()
        row["accuracy"][str(shrinkage)] = float(np.mean(lda.set_params(shrinkage=shrinkage).predict(F_val) == y_val))
        row["predict_seconds"][str(shrinkage)] = time.perf_counter() - start  # the solve, then the scores
    return row


def run(data_dir: str, quick: bool) -> dict:
    data = datasets.load("cifar10", data_dir, progress=False)
    fit_rows, val_rows = validation_split_indices(len(data.y_train))  # the validation split of the harness
    components, pca_images = COMPONENTS, PCA_IMAGES
    overrides = {}
    if quick:
        fit_rows, val_rows = fit_rows[:QUICK["fit"]], val_rows[:QUICK["validation"]]
        components, pca_images, overrides = QUICK["components"], QUICK["pca_images"], QUICK["model"]
    pipeline = preset("cifar10-best", random_state=0, pixel_max=data.pixel_max, member="codes", n_jobs=-1,
                      **overrides)
    X, X_val = (pipeline[0].transform(data.X_train[rows]) for rows in (fit_rows, val_rows))
    order = np.random.default_rng(0).permutation(len(X))
    X, y, y_val = X[order], data.y_train[fit_rows][order], data.y_train[val_rows]
    model = pipeline[-1]
    warmup = model.warmup
    model.fit(X[:warmup], y[:warmup])  # the dictionaries' warm-up (then frozen, as in the preset)
    codes = np.concatenate([model.codes(X[s:s + 2000]) for s in range(warmup, len(X), 2000)])
    codes_val, y = model.codes(X_val), y[warmup:]
    rows = []
    for k in components:
        if k is None:
            F, F_val = codes, codes_val
        else:
            found = position_components(codes[:pca_images], len(model.banks_), k)
            F, F_val = projected(codes, found), projected(codes_val, found)
        rows.append({"components": k, **readout_scores(F, y, F_val, y_val)})
        print(rows[-1], flush=True)
    return {"quick": quick, "n_readout": len(y), "n_validation": len(y_val), "positions": len(model.banks_),
            "prototypes": model.max_neurons, "pca_images": pca_images, "rows": rows}


def readout_table(intro: str, first_column: str, labelled: list[tuple[str, dict]]) -> str:
    """A readout probe's table: ``intro``, then each ``(label, row of readout_scores)``'s features, cost and best
    validation accuracy (its shrinkage)."""
    lines = [intro, "", f"| {first_column} | readout features | statistics s | solve + scores s | best shrinkage | "
             "validation accuracy |", "|---|---:|---:|---:|---:|---:|"]
    for label, row in labelled:
        best = max(row["accuracy"], key=row["accuracy"].get)
        lines.append(f"| {label} | {row['features']} | {row['statistics_seconds']:.1f} | "
                     f"{row['predict_seconds'][best]:.1f} | {best} | {100 * row['accuracy'][best]:.2f} % |")
    return "\n".join(lines) + "\n"


def markdown(result: dict) -> str:
    """Each readout's features, cost and best validation accuracy (its shrinkage)."""
    intro = (f"{result['positions']} positions x {result['prototypes']} prototypes; readouts learnt from "
             f"{result['n_readout']} images, scored on {result['n_validation']} validation images.")
    return readout_table(intro, "codes per position", [
        ("all (the control)" if row["components"] is None else f"{row['components']} principal components", row)
        for row in result["rows"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--quick", action="store_true", help="1500 images, 32 prototypes per position")
    args = parser.parse_args()
    result = run(args.data_dir, args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "readout_pca_probe.json").write_text(json.dumps(result, indent=1))
    print(markdown(result))


if __name__ == "__main__":
    main()
