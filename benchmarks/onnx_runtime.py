"""ONNX Runtime beside the package: every preset fit on its training set, exported, and both asked for the whole
test set; identical labels, both accuracies, and prediction throughput (median of alternating repetitions). ONNX
Runtime takes the test set in batches where one bank's distances to all of it would pass 1 GiB (the row's
``onnx_batch``).

    python benchmarks/onnx_runtime.py --data-dir ../shared/data              # every preset, full size
    python benchmarks/onnx_runtime.py --data-dir ../shared/data --quick      # minutes: see below

``--quick``: presets ``paper`` and ``cifar10-rf``, budgets cut to a tenth, fit on 6000 images, 2000 test images,
one repetition. ``--keep``: the rows of an existing ``<out>/onnx_runtime.json`` that this run does not measure
again are kept (a rebound preset measured alone). Every row records the preset's configuration; a row whose
configuration is not the preset's today names the difference. Writes ``<out>/onnx_runtime.json`` and
``onnx_runtime.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from memorynet import datasets, export_onnx, preset
from memorynet.experiments.harness import keep_rows, write_report
from memorynet.models.onnx_export import data_file, memory_banks
from memorynet.models.presets import adjust, configuration, configuration_name

_DISTANCE_BUDGET = 2**30  # bytes of float32 distances (images x one bank's neurons) per ONNX Runtime call; the
# graph holds a few such matrices at once (products, sums, per-class splits): 4 GiB ran a 24 GB machine out of memory
DATASET = {"paper": "mnist", "mnist-rf": "mnist", "mnist-best": "mnist", "cifar10-rf": "cifar10",
           "cifar10-best": "cifar10"}


def _quick(model) -> None:
    """A tenth of every budget (each member's, for a side-by-side model), shorter warm-ups of the dictionaries."""
    adjust(model[-1], lambda p: {"max_neurons": max(p["max_neurons"] // 10, 38),
                                 **({"warmup": 1000, "whiten_images": 500} if "warmup" in p else {})})


def _batch(estimator) -> int:
    """Images per ONNX Runtime call: the whole set where its distances to the largest bank fit ``_DISTANCE_BUDGET``
    (ONNX Runtime holds them all at once), else as many as do."""
    return max(1, _DISTANCE_BUDGET // (4 * max(bank.memories.shape[0] for bank in memory_banks(estimator))))


def measure(name: str, data, repeats: int, quick: bool) -> dict:
    """One preset: fit, export, then package and ONNX Runtime predictions, alternating ``repeats`` times."""
    import onnxruntime as ort

    model = preset(name, random_state=0, pixel_max=data.pixel_max)
    if quick:
        _quick(model)
    start = time.perf_counter()
    model.fit(data.X_train, data.y_train)
    fit_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        export_onnx(model, path)  # a model over 2 GiB writes its tensors to model.onnx.data beside it
        size = sum(file.stat().st_size for file in (path, data_file(path)) if file.exists())
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = data.X_test.astype(np.float32)
    batch = _batch(model[-1])
    model.predict(images[:10])  # the readout's one-off solve is part of fitting, not of prediction
    package, runtime = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        predicted = model.predict(images)
        package.append(time.perf_counter() - start)
        start = time.perf_counter()
        label = np.concatenate([session.run(["label"], {"images": images[i:i + batch]})[0]
                                for i in range(0, len(images), batch)])
        runtime.append(time.perf_counter() - start)
    return {"preset": name, "params": configuration(name), "dataset": data.name, "n_test": len(images),
            "fit_seconds": fit_seconds, "onnx_batch": min(batch, len(images)),
            "onnx_megabytes": size / 2**20, "identical": float(np.mean(label == predicted)),
            "accuracy_package": float(np.mean(predicted == data.y_test)),
            "accuracy_onnx": float(np.mean(label == data.y_test)),
            "images_per_second_package": len(images) / float(np.median(package)),
            "images_per_second_onnx": len(images) / float(np.median(runtime))}


def markdown(result: dict) -> str:
    out = ["| preset | data | identical labels | accuracy (package) | accuracy (ONNX Runtime) | images/s (package) "
           "| images/s (ONNX Runtime) | ONNX / package | file (MB) | images per ONNX call |", "|---|---|" + "---:|" * 8]
    for r in result["rows"]:
        out.append(f"| `{configuration_name(r['preset'], r['params'])}` | {r['dataset']} | "
                   f"{100 * r['identical']:.2f} % | {100 * r['accuracy_package']:.2f} % | "
                   f"{100 * r['accuracy_onnx']:.2f} % | {r['images_per_second_package']:.0f} | "
                   f"{r['images_per_second_onnx']:.0f} | "
                   f"{r['images_per_second_onnx'] / r['images_per_second_package']:.2f} | "
                   f"{r['onnx_megabytes']:.1f} | {r.get('onnx_batch', r['n_test'])} |")  # rows before batches: all
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--presets", nargs="+", choices=list(DATASET), default=list(DATASET))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the rows of <out>/onnx_runtime.json not rerun")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    import onnxruntime as ort

    presets, repeats = (["paper", "cifar10-rf"], 1) if args.quick else (args.presets, args.repeats)
    rows = []
    for name in presets:
        data = datasets.load(DATASET[name], args.data_dir, progress=False)
        if args.quick:
            data = dataclasses.replace(data, X_train=data.X_train[:6000], y_train=data.y_train[:6000],
                                       X_test=data.X_test[:2000], y_test=data.y_test[:2000])
        rows.append(measure(name, data, repeats, args.quick))
        print(rows[-1], flush=True)
    result = {"quick": args.quick, "repeats": repeats, "cpus": os.cpu_count(), "machine": platform.processor(),
              "onnxruntime": ort.__version__, "rows": rows}
    if args.keep:
        try:
            result = keep_rows(Path(args.out) / "onnx_runtime.json", result, lambda r: r["preset"])
        except ValueError as error:
            parser.error(str(error))
    write_report(args.out, "onnx_runtime", result, markdown(result))


if __name__ == "__main__":
    main()
