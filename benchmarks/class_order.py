"""Does the order of the classes matter? Each preset with its defaults, on the i.i.d. stream and on class-ordered
streams (5 tasks of 2 classes, shuffled within each task; the whole test set scores the model at the end):

- ``iid``: ``fit`` (it shuffles the training set);
- ``ordered fit``: ``fit`` on the ordered training set with ``shuffle=False`` (it sees every label up front);
- ``declared``: ``partial_fit`` task by task, every class declared on the first call (scikit-learn's convention);
- ``unannounced``: ``partial_fit`` task by task, each label first met in its task;

and on other orders (``partial_fit``, labels unannounced), scored per class against i.i.d.:

- ``one class per task``: 10 tasks of one class;
- ``two cycles``: the 5 tasks twice, each time with half of their images (classes come back after others);
- ``long tail``: the 5 tasks with class frequencies falling from 10 to 1 (class k keeps 10^(-k/9) of its images),
  scored against ``long tail iid``, ``fit`` on the same images shuffled.

    python benchmarks/class_order.py --data-dir ../shared/data                   # every preset, seeds 0 1 2
    python benchmarks/class_order.py --data-dir ../shared/data --presets paper --seeds 0
    python benchmarks/class_order.py --data-dir ../shared/data --quick           # minutes: see below

``--keep``: rows of an existing ``<out>/class_order.json`` that this run does not measure again are kept (a
results file grows preset by preset). ``--set name=value`` (repeatable) overrides an estimator parameter of the
presets measured, e.g. ``--set max_neurons=512``: every row records the parameters it was measured with, and a row
whose parameters are not its preset's (today's) names the difference beside the preset. ``--quick``: MNIST,
presets ``paper`` and ``mnist-rf``, one seed, a twelfth of the training set (1000 images per task) and of every
memory budget, 2000 test images. Writes ``<out>/class_order.json`` and ``class_order.md``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from memorynet import datasets, preset
from memorynet.experiments.continual import split_tasks
from memorynet.experiments.harness import keep_rows, summarize, write_report
from memorynet.models.presets import PRESETS, adjust, configuration, configuration_name
from memorynet.models.streaming import learn_chunk

PROTOCOLS = ("iid", "ordered fit", "declared", "unannounced")
OTHER_ORDERS = {"one class per task": "iid", "two cycles": "iid", "long tail": "long tail iid"}
ALL_PROTOCOLS = PROTOCOLS + ("long tail iid",) + tuple(OTHER_ORDERS)
DATASET = {"paper": ("mnist", "cifar10"), "mnist-rf": ("mnist",), "mnist-best": ("mnist",),
           "cifar10-rf": ("cifar10",), "cifar10-best": ("cifar10",)}
QUICK_FRACTION = 12  # --quick: a twelfth of the training images and of the memory budget


def _model(name: str, seed: int, pixel_max: float, fraction: int, overrides: dict):
    model = preset(name, random_state=seed, pixel_max=pixel_max, **overrides)
    if fraction > 1:  # every budget (each member's, for a side-by-side model) cut to the fraction
        adjust(model[-1], lambda p: {"max_neurons": max(p["max_neurons"] // fraction, 10),
                                     **({"warmup": p["warmup"] // fraction, "whiten_images": p["whiten_images"]
                                         // fraction} if "warmup" in p else {})})
    return model


def long_tail(y: np.ndarray, rows: np.ndarray, classes: np.ndarray, ratio: float = 10.0) -> np.ndarray:
    """``rows`` thinned so that class k (in ``classes`` order) keeps ``ratio ** (-k / (K - 1))`` of its rows."""
    keep = [rows[y[rows] == c][: round(np.sum(y[rows] == c) * ratio ** (-k / (len(classes) - 1)))]
            for k, c in enumerate(classes)]
    return np.sort(np.concatenate(keep))


def stream(protocol: str, y: np.ndarray, train_rows: np.ndarray, classes: np.ndarray,
           rng: np.random.Generator) -> list[np.ndarray]:
    """The chunks of training rows one protocol presents, in order (one chunk for ``fit`` protocols)."""
    def tasks(rows, per_task=2):
        return [rng.permutation(rows[np.isin(y[rows], t)]) for t in split_tasks(classes, per_task)]
    if protocol == "iid":
        return [train_rows]
    if protocol == "long tail iid":
        return [long_tail(y, train_rows, classes)]
    if protocol == "one class per task":
        return tasks(train_rows, 1)
    if protocol == "two cycles":
        halves = [np.array_split(t, 2) for t in tasks(train_rows)]
        return [h[0] for h in halves] + [h[1] for h in halves]
    if protocol == "long tail":
        return tasks(long_tail(y, train_rows, classes))
    ordered = tasks(train_rows)
    return [np.concatenate(ordered)] if protocol == "ordered fit" else ordered


def run_protocol(name: str, protocol: str, data, chunks: list[np.ndarray], seed: int, fraction: int,
                 overrides: dict | None = None) -> dict:
    """Test accuracy (overall and per class, on ``data``'s test rows) and seconds of one preset (its estimator's
    parameters ``overrides`` replaced) learning ``chunks`` of training rows under one protocol."""
    overrides = overrides or {}
    model, classes = _model(name, seed, data.pixel_max, fraction, overrides), np.unique(data.y_train)
    X, y = data.X_train, data.y_train
    start = time.perf_counter()
    if protocol in ("iid", "long tail iid"):
        model.fit(X[chunks[0]], y[chunks[0]])
    elif protocol == "ordered fit":
        model.set_params(network__shuffle=False).fit(X[chunks[0]], y[chunks[0]])
    else:
        for rows in chunks:
            learn_chunk(model, X[rows], y[rows], classes if protocol == "declared" else None)
    seconds = time.perf_counter() - start
    predicted = model.predict(data.X_test)
    hit = predicted == data.y_test
    return {"preset": name, "params": configuration(name, overrides), "protocol": protocol, "seed": seed,
            "seconds": seconds,
            "accuracy": float(np.mean(hit)),
            "class_accuracy": [float(np.mean(hit[data.y_test == c])) for c in classes],
            "predicted_classes": np.bincount(np.searchsorted(classes, predicted), minlength=len(classes)).tolist()}


def run(data_dir, presets: list[str], seeds: list[int], quick: bool, protocols: tuple[str, ...],
        overrides: dict | None = None) -> dict:
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
                for protocol in protocols:
                    chunks = stream(protocol, data.y_train, train_rows, np.unique(data.y_train),
                                    np.random.default_rng([seed, ALL_PROTOCOLS.index(protocol)]))
                    row = run_protocol(name, protocol, data, chunks, seed, fraction, overrides)
                    rows.append({"dataset": dataset, **row})
                    print(f"{configuration_name(name, row['params'])} {dataset} seed {seed} {protocol}: "
                          f"{row['accuracy']:.4f} ({row['seconds']:.0f} s)", flush=True)
    return {"quick": quick, "rows": rows}


def _accuracy(mean: float, std: float, seeds: int) -> str:
    """A cell's accuracy in percent: mean ± std over the seeds, the one figure where one seed ran."""
    return f"{100 * mean:.1f}" + (f" ± {100 * std:.1f}" if seeds > 1 else "")


def markdown(result: dict) -> str:
    """Accuracy per preset and protocol (mean ± std over seeds) with the largest drop from i.i.d.; for the other
    orders, the largest loss of one class against its reference (per-class accuracies averaged over seeds)."""
    key = lambda r: (configuration_name(r["preset"], r["params"]), r["dataset"], r["protocol"])  # noqa: E731
    groups = {key(runs[0]): (runs, s) for runs, s in summarize(result["rows"], key)}
    models = list(dict.fromkeys((p, d) for p, d, _ in groups))
    main = [p for p in PROTOCOLS if any((*m, p) in groups for m in models)]
    out = ["| preset | data | seeds | " + " | ".join(main) + " | largest drop (points) |",
           "|---|---|---:|" + "---:|" * (len(main) + 1)]
    for model in models:  # the seeds of its i.i.d. runs, else of its first stream; no drop without i.i.d. runs
        means = {p: groups[(*model, p)][1]["accuracy"] for p in main if (*model, p) in groups}
        if not means:
            continue
        cells = [_accuracy(*means[p], groups[(*model, p)][1]["seeds"]) if p in means else
                 "not measured" if p == "iid" else "" for p in main]
        drop = f"{100 * max(means['iid'][0] - m for m, _ in means.values()):.1f}" if "iid" in means else "—"
        seeds = groups[(*model, "iid" if "iid" in means else next(iter(means)))][1]["seeds"]
        out.append(f"| `{model[0]}` | {model[1]} | {seeds} | {' | '.join(cells)} | {drop} |")
    others = [o for o in OTHER_ORDERS if any((*m, o) in groups for m in models)]
    if others:
        out += ["", "Other orders: accuracy, and in brackets the largest loss of one class against the reference "
                "(points; `long tail` against `long tail iid`, the others against `iid`).", "",
                "| preset | data | seeds | " + " | ".join(others) + " |", "|---|---|---:|" + "---:|" * len(others)]
        per_class = {k: np.mean([r["class_accuracy"] for r in runs], axis=0) for k, (runs, _) in groups.items()}
        for model in models:
            cells, seeds = [], set()
            for order in others:
                reference = (*model, OTHER_ORDERS[order])
                if (*model, order) not in groups or reference not in groups:
                    cells.append("")
                    continue
                loss = 100 * np.max(per_class[reference] - per_class[(*model, order)])
                summary = groups[(*model, order)][1]
                seeds.add(summary["seeds"])
                cells.append(f"{_accuracy(*summary['accuracy'], summary['seeds'])} ({loss:.1f})")
            if any(cells):
                counted = "/".join(str(n) for n in sorted(seeds))  # one number unless the orders differ
                out.append(f"| `{model[0]}` | {model[1]} | {counted} | {' | '.join(cells)} |")
    return "\n".join(out) + "\n"


def _setting(text: str) -> tuple[str, object]:
    """``name=value`` of ``--set`` (the value a Python literal, else a string)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--presets", nargs="+", choices=list(DATASET), default=list(DATASET))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--protocols", nargs="+", choices=ALL_PROTOCOLS, default=list(ALL_PROTOCOLS))
    parser.add_argument("--set", dest="overrides", type=_setting, action="append", default=[],
                        metavar="NAME=VALUE", help="override an estimator parameter of the presets measured")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the rows of <out>/class_order.json not rerun")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    presets, seeds = (["paper", "mnist-rf"], [0]) if args.quick else (args.presets, args.seeds)
    for name, _ in args.overrides:
        unknown = [p for p in presets if name not in PRESETS[p][1]().get_params()]
        if unknown:
            parser.error(f"--set {name}: not a parameter of the estimator of {', '.join(unknown)}")
    result = run(args.data_dir, presets, seeds, args.quick, tuple(args.protocols), dict(args.overrides))
    if args.keep:
        try:
            result = keep_rows(Path(args.out) / "class_order.json", result, lambda r: (
                r["preset"], json.dumps(r["params"]), r["dataset"], r["seed"], r["protocol"]))
        except ValueError as error:
            parser.error(str(error))
    write_report(args.out, "class_order", result, markdown(result))


if __name__ == "__main__":
    main()
