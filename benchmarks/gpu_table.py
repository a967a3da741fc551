"""Fit + predict of the paper model and both presets with the torch searcher (GPU) against NumPy (CPU).

    bash benchmarks/gpu.sh --data-dir ../shared/data          # on a machine with a CUDA GPU and torch installed

Prints a Markdown table naming the card and the CPU, and writes ``<out>/gpu.json``. Every row checks that the
GPU's predictions equal the CPU's (the torch searcher gives the NumPy searcher's neighbours up to exact ties).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from memorynet import MemoryNetworkClassifier, datasets, scale_pixels
from memorynet.presets import preset

CASES = [("mnist", "paper 10000", None, 10000), ("mnist", "paper 60000", None, 60000),
         ("cifar10", "paper 10000", None, 10000), ("cifar10", "paper 50000", None, 50000),
         ("mnist", "mnist-best", "mnist-best", None), ("cifar10", "cifar10-best", "cifar10-best", None)]


def _model(name: str | None, neurons: int | None, backend: str):
    if name is None:
        return MemoryNetworkClassifier(neurons, random_state=0, search_backend=backend), True
    return preset(name, random_state=0, search_backend=backend), False


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device (torch on the CPU)"
    rows = []
    for dataset, label, name, neurons in CASES:
        ds = datasets.load(dataset, args.data_dir, progress=False)
        figures = {}
        for backend in ("numpy", "torch"):
            model, scaled = _model(name, neurons, backend)
            X, X_test = (scale_pixels(ds.X_train), scale_pixels(ds.X_test)) if scaled else (ds.X_train, ds.X_test)
            start = time.perf_counter()
            model.fit(X, ds.y_train)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            predicted = model.predict(X_test)
            figures[backend] = (fit_s, time.perf_counter() - start, predicted)
        same = bool(np.array_equal(figures["numpy"][2], figures["torch"][2]))
        rows.append({"dataset": dataset, "model": label, "cpu_fit_s": figures["numpy"][0],
                     "cpu_predict_s": figures["numpy"][1], "gpu_fit_s": figures["torch"][0],
                     "gpu_predict_s": figures["torch"][1], "identical_predictions": same,
                     "accuracy": float(np.mean(figures["torch"][2] == ds.y_test))})
        print(rows[-1], flush=True)
    lines = [f"GPU: {device}; CPU: {platform.processor() or platform.machine()}", "",
             "| data | model | CPU fit s | GPU fit s | CPU predict s | GPU predict s | accuracy | identical |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    lines += [f"| {r['dataset']} | {r['model']} | {r['cpu_fit_s']:.2f} | {r['gpu_fit_s']:.2f} | "
              f"{r['cpu_predict_s']:.2f} | {r['gpu_predict_s']:.2f} | {100 * r['accuracy']:.2f} % | "
              f"{'yes' if r['identical_predictions'] else 'NO'} |" for r in rows]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps({"device": device, "rows": rows}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
