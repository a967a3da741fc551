"""Does the order of the classes matter? Each preset with its defaults, on the i.i.d. stream and on class-ordered
streams (5 tasks of 2 classes, shuffled within each task; the whole test set scores the model at the end):

- ``iid``: ``fit`` (it shuffles the training set);
- ``ordered fit``: ``fit`` on the ordered training set with ``shuffle=False`` (it sees every label up front);
- ``declared``: ``partial_fit`` task by task, every class declared on the first call (scikit-learn's convention);
- ``unannounced``: ``partial_fit`` task by task, each label first met in its task.

    python benchmarks/class_order.py --data-dir ../shared/data                   # every preset, seeds 0 1 2
    python benchmarks/class_order.py --data-dir ../shared/data --presets paper --seeds 0
    python benchmarks/class_order.py --data-dir ../shared/data --quick           # minutes: see below

``--quick``: MNIST, presets ``paper`` and ``mnist-rf``, one seed, a twelfth of the training set (1000 images per
task) and of every memory budget, 2000 test images. Writes ``<out>/class_order.json`` and ``class_order.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from memorynet import datasets, preset
from memorynet.experiments.continual import split_tasks
from memorynet.experiments.harness import summarize, write_results
from memorynet.io.atomic import atomic_write
from memorynet.models.streaming import learn_chunk

PROTOCOLS = ("iid", "ordered fit", "declared", "unannounced")
DATASET = {"paper": ("mnist", "cifar10"), "mnist-rf": ("mnist",), "mnist-best": ("mnist",),
           "cifar10-rf": ("cifar10",), "cifar10-best": ("cifar10",)}
QUICK_FRACTION = 12  # --quick: a twelfth of the training images and of the memory budget


def _model(name: str, seed: int, pixel_max: float, fraction: int):
    model = preset(name, random_state=seed, pixel_max=pixel_max)
    network = model[-1]
    if fraction > 1:
        network.set_params(max_neurons=max(network.max_neurons // fraction, 10))
        if hasattr(network, "warmup"):
            network.set_params(warmup=network.warmup // fraction, whiten_images=network.whiten_images // fraction)
    return model


def run_protocol(name: str, protocol: str, data, train_rows: np.ndarray, tasks: list[np.ndarray], seed: int,
                 fraction: int) -> dict:
    """Test accuracy (on ``data``'s test rows) and seconds of one preset under one protocol."""
    model, classes = _model(name, seed, data.pixel_max, fraction), np.unique(data.y_train)
    X, y = data.X_train, data.y_train
    start = time.perf_counter()
    if protocol == "iid":
        model.fit(X[train_rows], y[train_rows])
    elif protocol == "ordered fit":
        rows = np.concatenate(tasks)
        model.set_params(network__shuffle=False).fit(X[rows], y[rows])
    else:
        for rows in tasks:
            learn_chunk(model, X[rows], y[rows], classes if protocol == "declared" else None)
    seconds = time.perf_counter() - start
    predicted = model.predict(data.X_test)
    return {"preset": name, "protocol": protocol, "seed": seed, "seconds": seconds,
            "accuracy": float(np.mean(predicted == data.y_test)),
            "predicted_classes": np.bincount(np.searchsorted(classes, predicted), minlength=len(classes)).tolist()}


def run(data_dir, presets: list[str], seeds: list[int], quick: bool) -> dict:
    rows = []
    fraction = QUICK_FRACTION if quick else 1
    for name in presets:
        for dataset in DATASET[name][:1] if quick else DATASET[name]:
            data = datasets.load(dataset, data_dir, progress=False)
            if quick:
                data = dataclasses.replace(data, X_test=data.X_test[:2000], y_test=data.y_test[:2000])
            for seed in seeds:
                rng = np.random.default_rng(seed)
                train_rows = rng.permutation(len(data.y_train))[: len(data.y_train) // fraction]
                tasks = [rng.permutation(train_rows[np.isin(data.y_train[train_rows], t)])
                         for t in split_tasks(data.y_train)]
                for protocol in PROTOCOLS:
                    row = run_protocol(name, protocol, data, train_rows, tasks, seed, fraction)
                    rows.append({"dataset": dataset, **row})
                    print(f"{name} {dataset} seed {seed} {protocol}: {row['accuracy']:.4f} ({row['seconds']:.0f} s)",
                          flush=True)
    return {"quick": quick, "rows": rows}


def markdown(result: dict) -> str:
    """Accuracy per preset and protocol (mean ± std over seeds), and the largest drop from i.i.d."""
    key = lambda r: (r["preset"], r["dataset"], r["protocol"])  # noqa: E731
    stats = {key(runs[0]): s for runs, s in summarize(result["rows"], key)}
    out = ["| preset | data | " + " | ".join(PROTOCOLS) + " | largest drop (points) |",
           "|---|---|" + "---:|" * (len(PROTOCOLS) + 1)]
    for name, dataset in dict.fromkeys((p, d) for p, d, _ in stats):
        means = {p: stats[(name, dataset, p)]["accuracy"] for p in PROTOCOLS if (name, dataset, p) in stats}
        cells = [f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in means.values()]
        drop = 100 * max(means["iid"][0] - m for m, _ in means.values())
        out.append(f"| `{name}` | {dataset} | {' | '.join(cells)} | {drop:.1f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--presets", nargs="+", choices=list(DATASET), default=list(DATASET))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    presets, seeds = (["paper", "mnist-rf"], [0]) if args.quick else (args.presets, args.seeds)
    result = run(args.data_dir, presets, seeds, args.quick)
    write_results(Path(args.out) / "class_order.json", result)
    table = markdown(result)
    atomic_write(Path(args.out) / "class_order.md", lambda fh: fh.write(table.encode()))
    print(table)


if __name__ == "__main__":
    main()
