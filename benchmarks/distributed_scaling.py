"""Accuracy and cost of data-parallel training (shards merged by the learning rule), and of model-parallel
receptive fields, on this machine.

    python benchmarks/distributed_scaling.py --data-dir ../shared/data            # ~15 min on 2 cores
    python benchmarks/distributed_scaling.py --data-dir ../shared/data --quick    # a minute: the same, smaller

Writes ``<out>/distributed.json`` and ``<out>/distributed.md`` (default ``benchmarks/results``):

0. the shard budget ("full" or "split") on the validation split carved from training (one seed);
1. accuracy of the merged model against the single-stream model (mean ± std over seeds), for both budgets: the
   paper model on MNIST (10000 neurons; 4 and 16 shards), on CIFAR-10 (5000 neurons), and both presets (4 shards);
2. cost as a function of the number of shards (1 ... 64), simulated in this process: shards learnt one after
   another (their time summed and their maximum: the wall time with one worker per shard), merges real (tree
   depth, total merge time, bytes of the shard models that a cluster would move);
3. wall time of a preset fit on a 2-worker LocalCluster against 1 worker (model-parallel positions), cluster
   start excluded.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone

from memorynet import MemoryNetworkClassifier, datasets, preset
from memorynet.apps import distributed as mdist


def _data(name: str, data_dir: str, chain: str = "scale", limit: int | None = None):
    ds = datasets.load(name, data_dir, progress=False)
    pre = preset("paper")[0].set_params(chain=chain, pixel_max=ds.pixel_max)
    return (pre.transform(ds.X_train[:limit]), ds.y_train[:limit], pre.transform(ds.X_test), ds.y_test)


def _accuracy_rows(data_dir: str, quick: bool) -> list[dict]:
    seeds = (0,) if quick else (0, 1, 2)
    cases = [("mnist", "paper 10000", "scale", MemoryNetworkClassifier(10000), (4, 16)),
             ("cifar10", "paper 5000", "scale", MemoryNetworkClassifier(5000), (4, 16)),
             ("mnist", "mnist-rf", "dog+standardize", preset("mnist-rf")[-1], (4,)),
             ("cifar10", "cifar10-rf", "opponent+standardize", preset("cifar10-rf")[-1], (4,))]
    if quick:
        cases = [("mnist", "paper 1000", "scale", MemoryNetworkClassifier(1000), (4, 16))]
    rows = []
    for dataset, label, chain, template, shard_counts in cases:
        X, y, X_test, y_test = _data(dataset, data_dir, chain, 20000 if quick else None)
        for shards, budget in [(1, "full")] + [(n, b) for n in shard_counts for b in ("full", "split")]:
            scores = []
            for seed in seeds:
                model = clone(template).set_params(random_state=seed)
                fitted = model.fit(X, y) if shards == 1 else mdist.fit(model, X, y, n_shards=shards,
                                                                        shard_budget=budget)
                scores.append(float(fitted.score(X_test, y_test)))
                print(f"{dataset} {label} shards={shards} {budget} seed={seed}: {scores[-1]:.4f}", file=sys.stderr)
            rows.append({"dataset": dataset, "model": label, "shards": shards, "budget": budget,
                         "seeds": len(seeds), "mean": float(np.mean(scores)), "std": float(np.std(scores))})
    return rows


def _validation_rows(data_dir: str, quick: bool) -> list[dict]:
    """The shard budget chosen on the validation split (the experiments' fixed one, carved from training)."""
    from memorynet.experiments.harness import validation_split_indices

    rows = []
    for dataset, neurons in ((("mnist", 1000),) if quick else (("mnist", 10000), ("cifar10", 5000))):
        X, y, _, _ = _data(dataset, data_dir, limit=20000 if quick else None)
        fit, held = validation_split_indices(len(y))
        model = MemoryNetworkClassifier(neurons, random_state=0)
        for shards, budget in [(1, "full")] + [(n, b) for n in (4, 16) for b in ("full", "split")]:
            fitted = clone(model).fit(X[fit], y[fit]) if shards == 1 else \
                mdist.fit(model, X[fit], y[fit], n_shards=shards, shard_budget=budget)
            rows.append({"dataset": dataset, "max_neurons": neurons, "shards": shards, "budget": budget,
                         "validation_accuracy": float(fitted.score(X[held], y[held]))})
            print(f"validation {rows[-1]}", file=sys.stderr)
    return rows


def _cost_rows(data_dir: str, quick: bool) -> list[dict]:
    X, y, X_test, y_test = _data("mnist", data_dir, limit=20000 if quick else None)
    rows = []
    for neurons in ((1000,) if quick else (1000, 10000)):
        template = MemoryNetworkClassifier(neurons, random_state=0)
        order = np.random.default_rng(0).permutation(len(y))
        for shards in ((1, 4, 16) if quick else (1, 2, 4, 16, 64)):
            parts = np.array_split(order, shards)
            learn_s, models = [], []
            for part in parts:
                start = time.perf_counter()
                models.append(mdist._learn_shard(template, X[part], y[part], np.unique(y)))
                learn_s.append(time.perf_counter() - start)
            moved = sum(len(pickle.dumps(m)) for m in models)
            start, depth = time.perf_counter(), 0
            while len(models) > 1:
                models = [mdist.merge(models[i], models[i + 1]) if i + 1 < len(models) else models[i]
                          for i in range(0, len(models), 2)]
                depth += 1
            merge_s = time.perf_counter() - start
            rows.append({"max_neurons": neurons, "shards": shards, "learn_s_total": float(sum(learn_s)),
                         "learn_s_max": float(max(learn_s)), "merge_s": merge_s, "tree_depth": depth,
                         "shard_model_bytes": moved, "accuracy": float(models[0].score(X_test, y_test))})
            print(f"cost {neurons} x {shards}: {rows[-1]}", file=sys.stderr)
    return rows


def _worker_rows(data_dir: str, quick: bool) -> list[dict]:
    name = "mnist-rf"
    X, y, _, _ = _data("mnist", data_dir, "dog+standardize", 10000 if quick else None)
    estimator = preset(name, random_state=0)[-1]
    rows = []
    for workers in (1, 2):
        with mdist.connect(n_workers=workers) as client:
            times = []
            for _ in range(1 if quick else 3):
                start = time.perf_counter()
                mdist.fit_positions(estimator, X, y, client=client)
                times.append(time.perf_counter() - start)
        rows.append({"preset": name, "workers": workers, "fit_s": float(np.median(times))})
        print(f"{name} {workers} workers: {rows[-1]['fit_s']:.2f} s", file=sys.stderr)
    start = time.perf_counter()
    estimator.fit(X, y)
    rows.append({"preset": name, "workers": 0, "fit_s": time.perf_counter() - start})  # plain fit, no cluster
    return rows


def markdown(results: dict) -> str:
    lines = ["### Accuracy of merged models (test sets)", "",
             "| data | model | shards | shard budget | accuracy (mean ± std) | seeds |", "|---|---|---:|---|---:|---:|"]
    lines += [f"| {r['dataset']} | {r['model']} | {r['shards'] if r['shards'] > 1 else '1 (plain fit)'} | "
              f"{r.get('budget', 'full') if r['shards'] > 1 else '—'} | {100 * r['mean']:.2f} ± {100 * r['std']:.2f} % "
              f"| {r['seeds']} |" for r in results["accuracy"]]
    if "validation" in results:
        lines += ["", "### Shard budget on the validation split (one seed): the budget to choose per data set and "
                  "shard count", "",
                  "| data | neurons | shards | shard budget | validation accuracy |", "|---|---:|---:|---|---:|"]
        lines += [f"| {r['dataset']} | {r['max_neurons']} | {r['shards'] if r['shards'] > 1 else '1 (plain fit)'} | "
                  f"{r['budget'] if r['shards'] > 1 else '—'} | {100 * r['validation_accuracy']:.2f} % |"
                  for r in results["validation"]]
    lines += ["", "### Cost against the number of shards (MNIST; shards learnt one after another, merges real)", "",
              "| neurons | shards | learn s (sum) | learn s (largest shard) | merge s | tree depth | shard models MB "
              "| accuracy |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['max_neurons']} | {r['shards']} | {r['learn_s_total']:.2f} | {r['learn_s_max']:.2f} | "
              f"{r['merge_s']:.2f} | {r['tree_depth']} | {r['shard_model_bytes'] / 1e6:.1f} | "
              f"{100 * r['accuracy']:.2f} % |" for r in results["cost"]]
    lines += ["", "### Model-parallel receptive fields: fit wall time (cluster start excluded)", "",
              "| preset | workers | fit s |", "|---|---:|---:|"]
    lines += [f"| {r['preset']} | {r['workers'] or 'none (plain fit)'} | {r['fit_s']:.2f} |"
              for r in results["workers"]]
    by = {r["workers"]: r["fit_s"] for r in results["workers"]}
    lines += ["", f"2 workers / 1 worker: {by[2] / by[1]:.2f}x (target <= 0.65x)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--only", choices=["validation", "accuracy", "cost", "workers"], action="append",
                        help="measure only these parts (the others are kept from an earlier distributed.json)")
    args = parser.parse_args()
    parts = {"validation": _validation_rows, "accuracy": _accuracy_rows, "cost": _cost_rows, "workers": _worker_rows}
    earlier = Path(args.out) / "distributed.json"
    results = json.loads(earlier.read_text()) if args.only and earlier.exists() else {"quick": args.quick}
    for name, measure in parts.items():
        if not args.only or name in args.only:
            results[name] = measure(args.data_dir, args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "distributed.json").write_text(json.dumps(results, indent=1))
    (out / "distributed.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
