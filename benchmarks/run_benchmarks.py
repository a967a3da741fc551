"""Speed and memory of memorynet against the peers, measured side by side in one run.

    python benchmarks/run_benchmarks.py --data-dir ../shared/data            # full suite, ~35 min on 2 cores
    python benchmarks/run_benchmarks.py --data-dir ../shared/data --smoke    # seconds: checks it all runs
    python benchmarks/run_benchmarks.py --data-dir ../shared/data --only best --out docs/data   # a rebound preset

``--only best``: the ``-best`` presets' rows alone, the other sections kept from ``<out>/benchmarks.json`` (each
row of the section records the configuration it measured, so a row of another run names what differs).

Every system runs in its own fresh process (so its peak resident memory is its own), on the same data, in the
same run, next to a float32 matrix product of the shape of the dominant distance computation (the BLAS limit).
The search engines (FAISS, float32, int8) and the class distances (float32, int8) are compared over one fitted
model each, alternating. Writes ``<out>/benchmarks.json`` and ``<out>/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPEATS = 3  # timings are medians of this many repetitions where a system is cheap enough to repeat
SIDE_BY_SIDE = 5  # the search engines' comparison: this many alternating repetitions
CLASS_DISTANCE_TEST = 2000  # the class distances' comparison: the first test images


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _data(name: str, data_dir: str, n_train: int | None, n_test: int | None):
    from memorynet import datasets, scale_pixels

    ds = datasets.load(name, data_dir, progress=False)
    X = scale_pixels(ds.X_train[:n_train], ds.pixel_max).reshape(-1, int(np.prod(ds.image_shape)))
    X_test = scale_pixels(ds.X_test[:n_test], ds.pixel_max).reshape(-1, X.shape[1])
    return X, ds.y_train[:n_train], X_test, ds.y_test[:n_test]


def _timed(fn, repeats: int = 1):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def _system(task: dict) -> dict:
    """Run one system in this (fresh) process: train once, predict, report times, accuracy, peak memory."""
    import tracemalloc

    X, y, X_test, y_test = _data(task["dataset"], task["data_dir"], task["n_train"], task["n_test"])
    tracemalloc.start()  # NumPy reports its buffers to tracemalloc: the peak is the system's own working memory
    kind, size = task["system"], task.get("max_neurons")
    repeats = task["repeats"]
    stored = None
    if kind == "memorynet":
        from memorynet import MemoryNetworkClassifier

        model = MemoryNetworkClassifier(size, random_state=0, search_backend=task.get("backend", "numpy"))
        train_s, _ = _timed(lambda: model.fit(X, y), repeats if size <= 10000 else 1)
        predict_s, predictions = _timed(lambda: model.predict(X_test), repeats)
        stored = model.n_neurons_
    elif kind == "faiss-flat-l2":
        import faiss

        from memorynet import MemoryNetworkClassifier

        model = MemoryNetworkClassifier(size, random_state=0).fit(X, y)
        bank, labels = np.ascontiguousarray(model.banks_[0].memories), model.labels_
        start = time.perf_counter()
        index = faiss.IndexFlatL2(bank.shape[1])
        index.add(bank)
        train_s = time.perf_counter() - start  # index build only; the bank itself was learnt by memorynet
        predict_s, found = _timed(lambda: index.search(X_test, 1)[1][:, 0], repeats)
        predictions, stored = labels[found], index.ntotal
    elif kind == "knn-brute":
        from sklearn.neighbors import KNeighborsClassifier

        model = KNeighborsClassifier(n_neighbors=1, algorithm="brute")
        train_s, _ = _timed(lambda: model.fit(X, y))
        predict_s, predictions = _timed(lambda: model.predict(X_test))
        stored = len(X)
    elif kind == "nearest-centroid":
        from sklearn.neighbors import NearestCentroid

        model = NearestCentroid()
        train_s, _ = _timed(lambda: model.fit(X, y), repeats)
        predict_s, predictions = _timed(lambda: model.predict(X_test), repeats)
        stored = len(model.classes_)
    elif kind.startswith("mlp"):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        one_epoch = kind == "mlp-1-epoch"
        model = MLPClassifier(hidden_layer_sizes=(256,), max_iter=1 if one_epoch else 100, early_stopping=not one_epoch,
                              random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            train_s, _ = _timed(lambda: model.fit(X, y))
        predict_s, predictions = _timed(lambda: model.predict(X_test), repeats)
        stored = model.n_iter_  # epochs, reported separately
    else:
        raise ValueError(kind)
    return {**task, "train_seconds": train_s, "predict_seconds": predict_s,
            "images_per_second": len(X_test) / predict_s, "accuracy": float(np.mean(predictions == y_test)),
            "stored": int(stored), "peak_rss_mb": _peak_rss_mb(),
            "peak_working_mb": tracemalloc.get_traced_memory()[1] / 2**20,
            "data_mb": (X.nbytes + X_test.nbytes) / 2**20}


def _blas_limit(n_queries: int, n_bank: int, dim: int, repeats: int) -> dict:
    """Seconds and GFLOP/s of one float32 (n_queries x dim) @ (dim x n_bank) product."""
    rng = np.random.default_rng(0)
    A = rng.random((n_queries, dim), dtype=np.float32)
    B = rng.random((n_bank, dim), dtype=np.float32)
    seconds, _ = _timed(lambda: A @ B.T, repeats)
    gflops = 2 * n_queries * n_bank * dim / seconds / 1e9
    return {"shape": [n_queries, dim, n_bank], "seconds": seconds, "gflops": gflops}


def _training_products(task: dict) -> dict:
    """Time the exact matrix products one training pass needs, alone, and the pass itself, in one process.

    After the memory fills, each batch compares its inputs of class c with the neurons of class c: the products
    (inputs_c x D) @ (D x neurons_c). Reproducing them on random data gives the BLAS time of the pass.
    """
    from memorynet import MemoryNetworkClassifier

    X, y, _, _ = _data(task["dataset"], task["data_dir"], task["n_train"], 1)
    model = MemoryNetworkClassifier(task["max_neurons"], random_state=0)
    train_s, _ = _timed(lambda: model.fit(X, y), task["repeats"])
    order = np.random.default_rng(0).permutation(len(X))  # the order fit used (random_state=0)
    per_class = np.bincount(model.banks_[0].classes)
    rng = np.random.default_rng(1)
    shapes = []
    for start in range(task["max_neurons"], len(X), model.batch_size):
        batch = y[order[start:start + model.batch_size]]
        shapes += [(int(n), int(per_class[c])) for c, n in enumerate(np.bincount(batch, minlength=len(per_class)))
                   if n]
    banks = {m: rng.random((m, X.shape[1]), dtype=np.float32) for m in set(m for _, m in shapes)}
    queries = rng.random((max(n for n, _ in shapes), X.shape[1]), dtype=np.float32)

    def products():
        for n, m in shapes:
            queries[:n] @ banks[m].T

    products_s, _ = _timed(products, task["repeats"])
    flops = sum(2 * n * m * X.shape[1] for n, m in shapes)
    return {"max_neurons": task["max_neurons"], "train_seconds": train_s, "products_seconds": products_s,
            "ratio": train_s / products_s, "gflop": flops / 1e9}


def _raw_task(task: dict):
    """A preset task's raw images (train, labels, test, labels; the task's sizes) and its unfitted preset."""
    from memorynet import datasets, preset

    ds = datasets.load(task["dataset"], task["data_dir"], progress=False)
    model = preset(task["preset"], random_state=0, pixel_max=ds.pixel_max, **task.get("overrides", {}))
    return (ds.X_train[:task["n_train"]], ds.y_train[:task["n_train"]], ds.X_test[:task["n_test"]],
            ds.y_test[:task["n_test"]], model)


def _preset_products(task: dict) -> dict:
    """A preset's fit and prediction against its distance products alone, timed in one process.

    The products: per position, prediction compares every test patch with every neuron, (n_test x D) @ (D x m);
    training compares, after the memory fills, each batch's inputs of class c with the neurons of class c. With no
    threshold every position grows the same rows, so every position's training products have the same shapes.
    """
    from memorynet.models.presets import configuration

    X, y, X_test, _, model = _raw_task(task)
    fit_s, _ = _timed(lambda: model.fit(X, y), task["repeats"])  # each fit starts from an empty memory
    predict_s, _ = _timed(lambda: model.predict(X_test), task["repeats"])
    est = model[-1]
    rng = np.random.default_rng(1)
    width = est.banks_[0].n_features
    sizes = [len(bank) for bank in est.banks_]
    tests = rng.random((len(X_test), width), dtype=np.float32)
    banks = {m: rng.random((m, width), dtype=np.float32) for m in set(sizes)}
    order = np.random.default_rng(0).permutation(len(X))  # the order fit used (random_state=0)
    per_class = np.bincount(est.banks_[0].classes)
    shapes = []
    for start in range(est.max_neurons, len(X), est.batch_size):
        counts = np.bincount(y[order[start:start + est.batch_size]], minlength=len(per_class))
        shapes += [(int(n), int(per_class[c])) for c, n in enumerate(counts) if n]
    class_banks = {m: rng.random((m, width), dtype=np.float32) for m in set(m for _, m in shapes)}

    def prediction_products():
        for m in sizes:
            tests @ banks[m].T

    def training_products():
        for _ in sizes:
            for n, m in shapes:
                tests[:n] @ class_banks[m].T

    predict_bound, _ = _timed(prediction_products, task["repeats"])
    fit_bound, _ = _timed(training_products, task["repeats"]) if shapes else (0.0, None)
    return {"preset": task["preset"], "params": configuration(task["preset"], task.get("overrides")),
            "dataset": task["dataset"], "positions": len(sizes), "width": width,
            "n_train": len(X), "n_test": len(X_test), "fit_seconds": fit_s, "predict_seconds": predict_s,
            "fit_products_seconds": fit_bound, "predict_products_seconds": predict_bound,
            "fit_ratio": fit_s / fit_bound if fit_bound else None, "predict_ratio": predict_s / predict_bound}


def _best_preset(task: dict) -> dict:
    """A ``-best`` preset (the frontier's winner) as a user runs it, in this fresh process: fit on the training set
    once, predict the test set twice (the first prediction also solves a readout; the second is what a served model
    gives); seconds, images per second, accuracy and the peak of the allocations made after the data were loaded
    (traced, as the frontier table reports it)."""
    import tracemalloc

    from memorynet.models.presets import configuration

    X, y, X_test, y_test, model = _raw_task(task)
    tracemalloc.start()
    try:
        fit_s, _ = _timed(lambda: model.fit(X, y))
        predict_s, predicted = _timed(lambda: model.predict(X_test))
        again_s, again = _timed(lambda: model.predict(X_test))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if not np.array_equal(predicted, again):
        raise AssertionError(f"{task['preset']} predicted the same images differently the second time")
    return {"preset": task["preset"], "params": configuration(task["preset"], task.get("overrides")),
            "dataset": task["dataset"], "n_train": len(X), "n_test": len(X_test),
            "fit_seconds": fit_s, "predict_seconds": predict_s, "images_per_second": len(X_test) / predict_s,
            "served_images_per_second": len(X_test) / again_s,
            "accuracy": float(np.mean(predicted == y_test)), "peak_working_mb": peak / 2 ** 20}


def _alternating(runs: dict, repeats: int, prepare=None) -> tuple[dict, dict]:
    """Each of ``runs`` (name -> call returning predictions) in turn, ``repeats`` rounds, ``prepare(name)`` untimed
    before each call: the median seconds per name and each name's last predictions."""
    times, predictions = {name: [] for name in runs}, {}
    for _ in range(repeats):
        for name, run in runs.items():
            if prepare is not None:
                prepare(name)
            start = time.perf_counter()
            predictions[name] = run()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}, predictions


def _search_side_by_side(task: dict) -> dict:
    """Prediction over one trained bank by FAISS IndexFlatL2, the float32 NumPy path and the int8 path, in one
    process, alternating, ``SIDE_BY_SIDE`` times each: medians, and whether their predictions agree."""
    import faiss

    from memorynet import MemoryNetworkClassifier
    from memorynet.engine import quantized

    X, y, X_test, _ = _data(task["dataset"], task["data_dir"], task["n_train"], task["n_test"])
    models = {backend: MemoryNetworkClassifier(task["max_neurons"], random_state=0, search_backend=backend).fit(X, y)
              for backend in ("numpy", "int8") if backend == "numpy" or quantized.int8_available()}
    bank, labels = models["numpy"].banks_[0].memories, models["numpy"].labels_
    index = faiss.IndexFlatL2(bank.shape[1])
    index.add(np.ascontiguousarray(bank))
    runs = {"faiss": lambda queries: labels[index.search(queries, 1)[1][:, 0]],
            **{backend: model.predict for backend, model in models.items()}}
    for backend, model in models.items():
        model.predict(X_test[:1024])  # the int8 codes are made at the first search: not timed
    seconds, predictions = _alternating({name: lambda run=run: run(X_test) for name, run in runs.items()},
                                        task["repeats"])
    return {"dataset": task["dataset"], "max_neurons": task["max_neurons"], "n_test": len(X_test),
            "repeats": task["repeats"], "seconds": seconds,
            "differing_from_faiss": {name: int((p != predictions["faiss"]).sum()) for name, p in predictions.items()},
            "cpu_int8": quantized.int8_available()}


def _class_distances_side_by_side(task: dict) -> dict:
    """A preset's prediction with its class distances searched by the float32 path (the default) and by the int8
    path (``search_backend="int8"``): one fitted model, the two searches alternating ``repeats`` times each,
    medians, the share of identical predictions and both accuracies."""
    from memorynet.engine import quantized

    X, y, X_test, y_test, model = _raw_task(task)
    model.fit(X, y)
    features, estimator = model[:-1].transform(X_test), model[-1]
    backends = ["numpy", "int8"] if quantized.int8_available() else ["numpy"]
    seconds, predictions = _alternating(
        {name: lambda: estimator.predict(features) for name in backends}, task["repeats"],
        # the engine switched, its int8 codes made again on a few images: not timed
        prepare=lambda name: estimator.set_params(search_backend=name).predict(features[:8]))
    return {"preset": task["preset"], "dataset": task["dataset"], "n_test": len(X_test), "repeats": task["repeats"],
            "seconds": seconds,
            "accuracy": {name: float(np.mean(p == y_test)) for name, p in predictions.items()},
            "identical": float(np.mean(predictions["int8"] == predictions["numpy"])) if "int8" in predictions else None,
            "neurons_per_position": int(np.mean([len(bank) for bank in estimator.banks_]))}


def _float64_agreement(task: dict) -> dict:
    """Predictions of the float32 hot path against a float64 recomputation over the same bank."""
    from memorynet import MemoryNetworkClassifier

    X, y, X_test, y_test = _data(task["dataset"], task["data_dir"], task["n_train"], task["n_test"])
    model = MemoryNetworkClassifier(task["max_neurons"], random_state=0).fit(X, y)
    bank = model.banks_[0].memories.astype(np.float64)
    queries = X_test.astype(np.float64)
    nearest = np.concatenate([((bank**2).sum(1)[None] - 2 * q @ bank.T).argmin(1)
                              for q in np.array_split(queries, max(1, len(queries) // 500))])
    reference = model.labels_[nearest]
    ours = model.predict(X_test)
    return {"max_neurons": task["max_neurons"], "differing_predictions": int((ours != reference).sum()),
            "n_test": len(X_test), "accuracy_float32": float(np.mean(ours == y_test)),
            "accuracy_float64": float(np.mean(reference == y_test))}


def _scaling(task: dict) -> list[dict]:
    from memorynet import MemoryNetworkClassifier

    X, y, X_test, _ = _data(task["dataset"], task["data_dir"], task["n_train"], task["n_test"])
    rows = []
    for max_neurons in task["neuron_grid"]:
        model = MemoryNetworkClassifier(max_neurons, random_state=0)
        train_s, _ = _timed(lambda: model.fit(X, y))
        predict_s, _ = _timed(lambda: model.predict(X_test))
        rows.append({"vary": "max_neurons", "max_neurons": max_neurons, "n_train": len(X), "train_seconds": train_s,
                     "predict_seconds": predict_s})
    for n_train in task["sample_grid"]:
        model = MemoryNetworkClassifier(task["fixed_neurons"], random_state=0)
        train_s, _ = _timed(lambda: model.fit(X[:n_train], y[:n_train]))
        rows.append({"vary": "n_train", "max_neurons": task["fixed_neurons"], "n_train": n_train,
                     "train_seconds": train_s, "predict_seconds": None})
    return rows


def _in_fresh_process(fn, task):
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, task).result()


def _slope(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def _isolated(smoke: bool):
    """How a measurement runs: in a fresh process, or for --smoke (which checks that everything runs, with no
    timing to isolate) in this one."""
    return (lambda fn, task: fn(task)) if smoke else _in_fresh_process


def _tasks(data_dir: str, smoke: bool) -> tuple[dict, dict]:
    """The MNIST and CIFAR-10 task options every section starts from."""
    mnist = {"dataset": "mnist", "data_dir": data_dir, "n_train": 3000 if smoke else None,
             "n_test": 500 if smoke else None, "repeats": 1 if smoke else REPEATS}
    return mnist, dict(mnist, dataset="cifar10", n_train=2000 if smoke else None)


def best_rows(data_dir: str, smoke: bool) -> list[dict]:
    """The ``-best`` presets as a user runs them (:func:`_best_preset`), each in a fresh process."""
    mnist, cifar = _tasks(data_dir, smoke)
    isolated, small = _isolated(smoke), _smoke_overrides if smoke else lambda name: {}
    return [isolated(_best_preset, dict(mnist, preset="mnist-best", **small("mnist-best"))),
            isolated(_best_preset, dict(cifar, preset="cifar10-best", **small("cifar10-best")))]


def run(data_dir: str, smoke: bool) -> dict:
    isolated = _isolated(smoke)
    mnist, cifar = _tasks(data_dir, smoke)
    sizes = (100, 300, 3000) if smoke else (1000, 10000, 60000)
    systems = [dict(mnist, system="memorynet", max_neurons=s) for s in sizes]
    systems += [dict(mnist, system="faiss-flat-l2", max_neurons=sizes[-1]),
                dict(mnist, system="memorynet", max_neurons=sizes[-1], backend="faiss"),
                dict(mnist, system="knn-brute"), dict(mnist, system="nearest-centroid"),
                dict(mnist, system="mlp-1-epoch"), dict(mnist, system="mlp-converged")]
    systems += [dict(cifar, system="memorynet", max_neurons=sizes[1]), dict(cifar, system="knn-brute"),
                dict(cifar, system="faiss-flat-l2", max_neurons=sizes[1]), dict(cifar, system="nearest-centroid")]
    results = {"systems": []}
    for task in systems:
        print(f"  {task['dataset']:8s} {task['system']} {task.get('max_neurons', '')} {task.get('backend', '')}",
              file=sys.stderr, flush=True)
        results["systems"].append(isolated(_system, task))
    n_test = 500 if smoke else 10000
    results["blas"] = _blas_limit(n_test, sizes[-1] if not smoke else 3000, 784, mnist["repeats"])
    results["training"] = isolated(_training_products, dict(mnist, max_neurons=sizes[1]))
    results["float64"] = isolated(_float64_agreement, dict(mnist, max_neurons=sizes[1]))
    side = {"repeats": 1 if smoke else SIDE_BY_SIDE}
    results["search"] = [isolated(_search_side_by_side, dict(mnist, max_neurons=sizes[-1], **side)),
                         isolated(_search_side_by_side, dict(cifar, max_neurons=3000 if smoke else 50000,
                                                                      **side))]
    grid = {"neuron_grid": (100, 300, 1000) if smoke else (1000, 3000, 10000, 30000),
            "sample_grid": (1000, 2000, 3000) if smoke else (15000, 30000, 60000),
            "fixed_neurons": 100 if smoke else 10000}
    results["scaling"] = isolated(_scaling, dict(mnist, **grid))
    small = _smoke_overrides if smoke else lambda name: {}
    results["presets"] = [isolated(_preset_products, dict(mnist, preset="mnist-rf", **small("mnist-rf"))),
                          isolated(_preset_products, dict(cifar, preset="cifar10-rf", **small("cifar10-rf")))]
    side = {"repeats": 1 if smoke else REPEATS, "n_test": 500 if smoke else CLASS_DISTANCE_TEST}
    results["class_distances"] = [
        isolated(_class_distances_side_by_side, dict(task, preset=name, **side, **small(name)))
        for task, name in ((mnist, "mnist-rf"), (cifar, "cifar10-rf"), (mnist, "mnist-best"))]
    results["best"] = best_rows(data_dir, smoke)
    from memorynet import __version__
    from memorynet.experiments.evaluation import machine_info

    results.update(smoke=smoke, version=__version__, machine=machine_info())
    return results


def _smoke_overrides(name: str) -> dict:
    """The task options that cut a preset's budgets for ``--smoke``: 500 neurons per position, 32 prototypes per
    dictionary (each member's, for a side-by-side preset)."""
    from memorynet import preset
    from memorynet.models.presets import adjust

    estimator = preset(name)[-1]
    adjust(estimator, lambda p: {"max_neurons": 32 if "warmup" in p else 500})
    return {"overrides": {k: v for k, v in estimator.get_params(deep=False).items() if k in ("max_neurons", "members")}}


def _target(what: str, ratio: float, target: float, at_least: bool, fmt: str = ".2f") -> str:
    met = ratio >= target if at_least else ratio <= target
    return f"| {what} | {ratio:{fmt}} | {'>=' if at_least else '<='} {target} | {'met' if met else 'missed'} |"


def _products_target(row: dict, what: str, bound: float) -> str:
    """A preset's ``what`` ("fit" or "predict") against its distance products; a fit that never searched a full
    memory has no products to compare, and says so."""
    name = f"{row['preset']} {what} vs its distance products"
    if row[f"{what}_ratio"] is None:
        return f"| {name} | — | <= {bound} | no products: the memory never fills, every image becomes a neuron |"
    return _target(name, row[f"{what}_ratio"], bound, False)


def targets(results: dict) -> str:
    """The speed targets of the project, each as ratio / target / met or missed, from this run's figures."""
    search = results["search"][0]  # MNIST, the largest bank
    speed = {name: search["seconds"]["faiss"] / t for name, t in search["seconds"].items()}
    default = "int8" if "int8" in speed else "numpy"  # what search_backend="auto" takes on this machine
    lines = ["| target | ratio | target | result |", "|---|---:|---:|---|",
             _target(f"prediction at {search['max_neurons']} neurons, default search (`auto`: {default} here) vs "
                     "FAISS IndexFlatL2", speed[default], 1.05, True),
             _target(f"prediction at {search['max_neurons']} neurons, float32 NumPy search vs FAISS IndexFlatL2",
                     speed["numpy"], 1.05, True),
             _target(f"training at {results['training']['max_neurons']} neurons vs its same-label products",
                     results["training"]["ratio"], 2.0, False),
             *[_products_target(r, what, bound)
               for r in results.get("presets", []) for what, bound in (("predict", 1.5), ("fit", 2.0))],
             *[line for r in results.get("best", []) for line in (  # every frontier winner is held to the same
                 _target(f"{r['preset']} prediction, images/s (absolute)", r["images_per_second"], 2000, True, ".0f"),
                 _target(f"{r['preset']} prediction once its readout is solved, images/s (absolute)",
                         r["served_images_per_second"], 2000, True, ".0f"),
                 _target(f"{r['preset']} peak memory beyond the data, MB (absolute)", r["peak_working_mb"], 3072,
                         False, ".0f"))],
             _target(f"int8 search vs FAISS float32, {search['max_neurons']} neurons", speed["int8"], 1.5, True)
             if "int8" in speed else "| int8 search vs FAISS float32 | — | >= 1.5 | no int8 instructions here |",
             "| GPU | — | — | the GPU table below (`bash benchmarks/gpu.sh --data-dir DIR` on a CUDA machine) |"]
    return "\n".join(lines) + "\n"


def markdown(results: dict) -> str:
    blas = results["blas"]
    lines = ["| data | system | neurons / prototypes | train s | predict s | images/s | accuracy | peak RSS MB "
             "| peak beyond data MB |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["systems"]:
        name = r["system"] + (f" {r['max_neurons']}" if r.get("max_neurons") and r["system"] == "memorynet" else "")
        name += f" ({r['backend']} search)" if r.get("backend") else ""
        name += f" over the memorynet {r['max_neurons']} bank" if r["system"] == "faiss-flat-l2" else ""
        stored = f"{r['stored']} epochs" if r["system"].startswith("mlp") else f"{r['stored']}"
        lines.append(f"| {r['dataset']} | {name} | {stored} | {r['train_seconds']:.2f} | {r['predict_seconds']:.2f} "
                     f"| {r['images_per_second']:.0f} | {100 * r['accuracy']:.2f} % | {r['peak_rss_mb']:.0f} "
                     f"| {r['peak_working_mb']:.0f} |")
    by = {(r["dataset"], r["system"], r.get("max_neurons"), r.get("backend")): r for r in results["systems"]}
    size = max(r.get("max_neurons") or 0 for r in results["systems"] if r["dataset"] == "mnist")
    ours, faiss = by[("mnist", "memorynet", size, None)], by[("mnist", "faiss-flat-l2", size, None)]
    n, d, m = blas["shape"]  # the shape of memorynet's prediction product at this size
    train = results["training"]
    f64 = results["float64"]
    scaling = results["scaling"]
    neurons = [r for r in scaling if r["vary"] == "max_neurons"]
    samples = [r for r in scaling if r["vary"] == "n_train"]
    sizes = [r["max_neurons"] for r in neurons]
    lines += [
        "",
        f"- BLAS limit: a float32 ({n} x {d}) @ ({d} x {m}) product takes {blas['seconds']:.2f} s "
        f"({blas['gflops']:.0f} GFLOP/s).",
        f"- Prediction with {size} neurons: memorynet {ours['images_per_second']:.0f} images/s, FAISS IndexFlatL2 "
        f"{faiss['images_per_second']:.0f} images/s: ratio "
        f"{ours['images_per_second'] / faiss['images_per_second']:.2f} "
        f"(float32 path; the targets compare the default search too); memorynet runs at "
        f"{100 * blas['seconds'] / ours['predict_seconds']:.0f} % of the BLAS limit.",
        f"- One training pass with {train['max_neurons']} neurons: {train['train_seconds']:.2f} s; the same-label "
        f"matrix products it needs ({train['gflop']:.1f} GFLOP) take {train['products_seconds']:.2f} s alone: "
        f"ratio {train['ratio']:.2f} (target <= 2).",
        f"- float32 vs float64 reference, {f64['max_neurons']} neurons: {f64['differing_predictions']} of "
        f"{f64['n_test']} predictions differ (accuracy {100 * f64['accuracy_float32']:.2f} % vs "
        f"{100 * f64['accuracy_float64']:.2f} %).",
        f"- Growth: training time ~ max_neurons^{_slope(sizes, [r['train_seconds'] for r in neurons]):.2f}, "
        f"prediction time ~ max_neurons^{_slope(sizes, [r['predict_seconds'] for r in neurons]):.2f}, "
        f"training time ~ n_train^{_slope([r['n_train'] for r in samples], [r['train_seconds'] for r in samples]):.2f} "
        f"(log-log slopes; " + ", ".join(f"{r['max_neurons']}: {r['train_seconds']:.2f}/{r['predict_seconds']:.2f} s"
                                          for r in neurons) + " train/predict).",
        "- Memory beyond the data (train + test arrays, float32): " + "; ".join(
            f"memorynet {r['max_neurons']}: {r['peak_working_mb']:.0f} MB = bank "
            f"{r['stored'] * 784 * 4 / 2**20:.0f} MB "
            f"+ {r['peak_working_mb'] - r['stored'] * 784 * 4 / 2**20:.0f} MB working set" for r in results["systems"]
            if r["system"] == "memorynet" and r["dataset"] == "mnist" and not r.get("backend"))
        + f"; the data itself is {ours['data_mb']:.0f} MB.",
    ]
    lines += ["", "| data | neurons | FAISS IndexFlatL2 s | float32 NumPy s | int8 + exact re-ranking s | "
              "predictions differing from FAISS (NumPy / int8) |", "|---|---:|---:|---:|---:|---:|"]
    for r in results["search"]:
        t, differ = r["seconds"], r["differing_from_faiss"]
        lines.append(f"| {r['dataset']} | {r['max_neurons']} | {t['faiss']:.2f} | {t['numpy']:.2f} | "
                     f"{t['int8']:.2f} | {differ['numpy']} / {differ['int8']} |" if "int8" in t else
                     f"| {r['dataset']} | {r['max_neurons']} | {t['faiss']:.2f} | {t['numpy']:.2f} | — | "
                     f"{differ['numpy']} / — |")
    if results.get("presets"):
        lines += ["", "| preset | data | positions | train / test images | fit s | its products s | predict s | "
                  "its products s |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['preset']} | {r['dataset']} | {r['positions']} | {r['n_train']} / {r['n_test']} | "
                  f"{r['fit_seconds']:.2f} | {r['fit_products_seconds']:.2f} | {r['predict_seconds']:.2f} | "
                  f"{r['predict_products_seconds']:.2f} |" for r in results["presets"]]
    if results.get("class_distances"):
        lines += ["", "| preset | data | neurons per position | test images | float32 class distances s | int8 s | "
                  "ratio | identical predictions | accuracy float32 / int8 |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["class_distances"]:
            t, a = r["seconds"], r["accuracy"]
            lines.append(f"| {r['preset']} | {r['dataset']} | {r['neurons_per_position']} | {r['n_test']} | "
                         f"{t['numpy']:.2f} | " + (f"{t['int8']:.2f} | {t['numpy'] / t['int8']:.2f} | "
                                                    f"{r['identical']:.2%} | {a['numpy']:.2%} / {a['int8']:.2%} |"
                                                    if "int8" in t else f"— | — | — | {a['numpy']:.2%} / — |"))
    if results.get("best"):
        from memorynet.models.presets import configuration_name

        lines += ["", "| preset (the frontier's winner) | data | train / test images | fit s | predict s | images/s "
                  "| images/s once solved | accuracy | peak beyond data MB |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {configuration_name(r['preset'], r['params'])} | {r['dataset']} | {r['n_train']} / "
                  f"{r['n_test']} | {r['fit_seconds']:.1f} | {r['predict_seconds']:.1f} | "
                  f"{r['images_per_second']:.0f} | "
                  f"{r['served_images_per_second']:.0f} | {100 * r['accuracy']:.2f} % | "
                  f"{r['peak_working_mb']:.0f} |" for r in results["best"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="benchmark data (default: $MEMORYNET_DATA)")
    parser.add_argument("--out", default="benchmarks/results", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite runs, not the timings")
    parser.add_argument("--only", choices=["best"], default=None,
                        help="measure this section alone; keep the others from <out>/benchmarks.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.only:
        if not (out / "benchmarks.json").exists():
            raise SystemExit(f"--only {args.only} keeps the other sections of {out / 'benchmarks.json'}, which does "
                             "not exist: run the whole suite first")
        results = json.loads((out / "benchmarks.json").read_text())
        if bool(results.get("smoke")) != args.smoke:
            raise SystemExit(f"{out / 'benchmarks.json'} holds a {'smoke' if results.get('smoke') else 'full'} run; "
                             "keeping it would mix smoke and full rows (write elsewhere with --out)")
        results["best"] = best_rows(args.data_dir, args.smoke)
    else:
        start = time.perf_counter()
        results = run(args.data_dir, args.smoke)
        results["wall_seconds"] = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    from memorynet.experiments.harness import write_report

    # temporary file, then rename; the sections in the order they were measured (the site's test draws from them)
    write_report(out, "benchmarks", results, markdown(results) + "\n" + targets(results), sort_keys=False)
    print(f"wall time of the whole suite {results['wall_seconds']:.0f} s; wrote {out / 'benchmarks.json'} and "
          f"{out / 'benchmarks.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
