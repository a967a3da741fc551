"""Probe for the frontier issue (issue 24): a second layer of per-position dictionaries over neighbouring codes, on
``cifar10-best``'s dictionaries (its prototype-code member). Validation split only; the test set is not read.

    python benchmarks/second_layer_probe.py --data-dir ../shared/data            # about 25 minutes on 2 cores
    python benchmarks/second_layer_probe.py --data-dir ../shared/data --quick    # 1500 images, small dictionaries

The preset's codes (positions x prototypes, position after position) are a map of ``prototypes`` channels over the
grid of positions. A second :class:`~memorynet.PrototypeCodeClassifier` reads that map as its image: each of its
positions (a square of :data:`LAYER2` ``patch_size`` neighbouring first-layer positions) has its own whitening and
dictionary, learnt by the Memory Network's rule from the maps of the images that follow the first layer's warm-up,
and describes its patch by triangle codes. Nothing is shared between positions in either layer, and every image is
presented once: images first teach the first layer's whitening and dictionaries, then (as codes) the second layer's,
then every readout. The maps are scaled by one number (the first layer's codes' mean standard deviation over the
second layer's warm-up images), so that the second layer's ``whiten_eps`` means what the first layer's does.

Three streaming discriminants learn the same images in the same order: the first layer's codes (the preset, the
control), the second layer's alone, and both side by side; each is scored on validation at every shrinkage of
:data:`SHRINKAGES`. Writes ``<out>/second_layer_probe.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from memorynet import PrototypeCodeClassifier, datasets, preset
from memorynet.experiments.harness import validation_split_indices

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling probe's readout scoring and table
from readout_pca_probe import readout_scores, readout_table  # noqa: E402

LAYER2 = {"max_neurons": 256, "patch_size": 2, "stride": 1, "patch_jitter": 1, "whiten_images": 400, "warmup": 1000,
          "whiten_eps": 1.0}
SHRINKAGES = (0.003, 0.01, 0.03)  # the preset's choice and its neighbours (each solve of both layers takes minutes)
CODES_CHUNK = 2000  # images described together
QUICK = {"fit": 1500, "validation": 300, "model": {"max_neurons": 32, "warmup": 300, "whiten_images": 100},
         "layer2": {"max_neurons": 16, "warmup": 300, "whiten_images": 100}}


def code_maps(codes: np.ndarray, side: tuple[int, int], scale: float) -> np.ndarray:
    """Codes (n, positions * prototypes), position after position over a row-major grid of ``side`` positions, as
    flat images (n, prototypes * rows * columns) in (channel, row, column) order, times ``scale``."""
    n, (rows, columns) = len(codes), side
    maps = codes.reshape(n, rows, columns, -1).transpose(0, 3, 1, 2) * np.float32(scale)
    return np.ascontiguousarray(maps).reshape(n, -1)


def _described(describe, X: np.ndarray) -> np.ndarray:
    """``describe`` applied to ``X`` a chunk at a time, stacked."""
    return np.concatenate([describe(X[s:s + CODES_CHUNK]) for s in range(0, len(X), CODES_CHUNK)])


def run(data_dir: str, quick: bool) -> dict:
    data = datasets.load("cifar10", data_dir, progress=False)
    fit_rows, val_rows = validation_split_indices(len(data.y_train))  # the validation split of the harness
    overrides, layer2 = {}, dict(LAYER2)
    if quick:
        fit_rows, val_rows = fit_rows[:QUICK["fit"]], val_rows[:QUICK["validation"]]
        overrides, layer2 = QUICK["model"], {**layer2, **QUICK["layer2"]}
    pipeline = preset("cifar10-best", random_state=0, pixel_max=data.pixel_max, member="codes", n_jobs=-1,
                      **overrides)
    X, X_val = (pipeline[0].transform(data.X_train[rows]) for rows in (fit_rows, val_rows))
    order = np.random.default_rng(0).permutation(len(X))
    X, y, y_val = X[order], data.y_train[fit_rows][order], data.y_train[val_rows]
    first = pipeline[-1]
    start = time.perf_counter()
    first.fit(X[:first.warmup], y[:first.warmup])  # the first layer's warm-up (then frozen, as in the preset)
    codes, codes_val = _described(first.codes, X[first.warmup:]), _described(first.codes, X_val)
    y = y[first.warmup:]
    first_seconds = time.perf_counter() - start
    side = (len({r for r, _ in first.corners_}), len({c for _, c in first.corners_}))
    warm = layer2["warmup"]
    scale = 1.0 / float(np.sqrt(codes[:warm].var(axis=0).mean()))

    start = time.perf_counter()
    second = PrototypeCodeClassifier(**layer2, image_shape=(first.max_neurons, *side), random_state=0, n_jobs=-1)
    second.fit(code_maps(codes[:warm], side, scale), y[:warm])  # its warm-up only: the readouts are learnt below
    codes2, codes2_val = (_described(lambda c: second.codes(code_maps(c, side, scale)), c)
                          for c in (codes[warm:], codes_val))
    second_seconds = time.perf_counter() - start
    codes, y = codes[warm:], y[warm:]

    rows = [{"readout": "first layer (the preset)", **readout_scores(codes, y, codes_val, y_val, SHRINKAGES)},
            {"readout": "second layer", **readout_scores(codes2, y, codes2_val, y_val, SHRINKAGES)}]
    both = np.concatenate([codes, codes2], axis=1)
    del codes, codes2  # the side-by-side copy replaces them
    rows.append({"readout": "both side by side",
                 **readout_scores(both, y, np.concatenate([codes_val, codes2_val], axis=1), y_val, SHRINKAGES)})
    return {"quick": quick, "n_readout": len(y), "n_validation": len(y_val), "positions": len(first.banks_),
            "prototypes": first.max_neurons, "positions2": len(second.banks_), "layer2": layer2, "scale": scale,
            "first_layer_seconds": first_seconds, "second_layer_seconds": second_seconds, "rows": rows}


def markdown(result: dict) -> str:
    """Each readout's features, cost and best validation accuracy (its shrinkage)."""
    layer2 = result["layer2"]
    intro = (f"First layer: {result['positions']} positions x {result['prototypes']} prototypes (the preset). Second "
             f"layer: {result['positions2']} positions, each over {layer2['patch_size']} x {layer2['patch_size']} "
             f"neighbouring first-layer positions, {layer2['max_neurons']} prototypes each, learnt from the codes of "
             f"{layer2['warmup']} images. Readouts learnt from {result['n_readout']} images, scored on "
             f"{result['n_validation']} validation images.")
    return readout_table(intro, "readout over", [(row["readout"], row) for row in result["rows"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--quick", action="store_true", help="1500 images, small dictionaries in both layers")
    args = parser.parse_args()
    result = run(args.data_dir, args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "second_layer_probe.json").write_text(json.dumps(result, indent=1))
    print(markdown(result))


if __name__ == "__main__":
    main()
