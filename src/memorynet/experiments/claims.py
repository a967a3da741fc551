"""The paper's claims, measured: learning from few examples, class-incremental learning without forgetting
(:mod:`memorynet.experiments.continual`), and the arithmetic cost of learning and inference, against a
backpropagation-trained MLP, 1-NN and the one-pass peers of :mod:`memorynet.experiments.peers`.

Each ``run_*`` function returns a JSON-ready dict; :func:`run_claim` writes ``<out>/<name>.json``, ``.md`` and
``.png`` and skips the work when a JSON with the same settings exists (delete it to rerun).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from tqdm.auto import tqdm

from .. import __version__
from ..engine.searchers import CountingSearcher, NumpySearcher
from ..io import datasets
from ..io.atomic import atomic_write
from ..models.memory_network import MemoryNetworkClassifier
from ..models.preprocessing import scale_pixels
from . import continual, frontier
from .evaluation import machine_info
from .harness import read_results, validation_split_indices, write_results
from .peers import NearestClassMean, StreamingLDA

__all__ = ["CLAIMS", "run_fewshot", "run_energy", "run_claim", "fewshot_markdown", "energy_markdown"]

CLAIMS = ("fewshot", "continual", "energy", "frontier")
MLP_HIDDEN = 256  # one hidden layer, scikit-learn's Adam defaults otherwise


def _flat(dataset: datasets.Dataset):
    X = scale_pixels(dataset.X_train, dataset.pixel_max).reshape(len(dataset.y_train), -1)
    X_test = scale_pixels(dataset.X_test, dataset.pixel_max).reshape(len(dataset.y_test), -1)
    return X, dataset.y_train, X_test, dataset.y_test


def _mlp(max_iter: int, seed: int) -> MLPClassifier:
    return MLPClassifier(hidden_layer_sizes=(MLP_HIDDEN,), max_iter=max_iter, random_state=seed)


def _quiet_fit(model, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args)


# ----------------------------------------------------------------------------------------------------------------
# Few-shot


def run_fewshot(data_dir=None, quick: bool = False, progress: bool = True) -> dict:
    """Accuracy on the full test set after k training examples per class, mean ± std over seeds.

    The examples are drawn from the training set less a held-out validation split of 10000 images, on which
    streaming LDA's shrinkage is chosen for each draw."""
    names = ("mnist",) if quick else ("mnist", "cifar10")
    shots = (1, 10, 100) if quick else (1, 2, 5, 10, 20, 50, 100, 500)
    seeds = (0, 1) if quick else (0, 1, 2, 3, 4)
    rows = []
    bar = tqdm(total=len(names) * len(shots) * len(seeds), desc="fewshot", unit="run", disable=not progress)
    for name in names:
        X, y, X_test, y_test = _flat(datasets.load(name, data_dir, progress=False))
        pool, validation = validation_split_indices(len(y))
        for k in shots:
            for seed in seeds:
                rng = np.random.default_rng(seed)
                picked = np.concatenate([rng.choice(pool[y[pool] == c], k, replace=False) for c in np.unique(y)])
                shrinkage, _ = continual.select_shrinkage(X[picked], y[picked], X[validation], y[validation])
                models = {"memorynet (max_neurons=1000)": MemoryNetworkClassifier(1000, random_state=seed),
                          "1-NN (scikit-learn)": KNeighborsClassifier(1, algorithm="brute"),
                          "streaming LDA (shrinkage chosen on validation)": StreamingLDA(shrinkage),
                          "nearest class mean": NearestClassMean(),
                          "MLP, backprop to convergence": _mlp(500, seed)}
                for label, model in models.items():
                    start = time.perf_counter()
                    _quiet_fit(model, X[picked], y[picked])
                    rows.append({"dataset": name, "shots": k, "seed": seed, "model": label,
                                 "train_seconds": time.perf_counter() - start,
                                 "accuracy": float(model.score(X_test, y_test))})
                bar.update()
    bar.close()
    return {"rows": rows}


# ----------------------------------------------------------------------------------------------------------------
# Arithmetic cost


def _count_training_macs(X, y, max_neurons: int, seed: int) -> tuple[int, MemoryNetworkClassifier]:
    """Fit and count the multiply-adds of every same-label distance actually computed (a counting searcher)."""
    counters: list[CountingSearcher] = []

    def counting(metric: str, p: float) -> CountingSearcher:
        counters.append(CountingSearcher(NumpySearcher(metric, p)))
        return counters[-1]

    model = MemoryNetworkClassifier(max_neurons, random_state=seed, search_backend=counting).fit(X, y)
    return sum(c.macs for c in counters), model


def run_energy(data_dir=None, quick: bool = False, progress: bool = True) -> dict:
    """Multiply-adds (MACs) and bytes of memory traffic per training sample and per prediction.

    Memory Network, counted analytically: once the memory is full each input is compared with the neurons of its
    label (about ``max_neurons / n_classes`` rows of D values) and updates one neuron (D); a prediction compares
    with every neuron (``max_neurons * D``), reading the bank once per block of queries. The training count is
    checked against an instrumented run that adds up the distances actually computed. MLP (one hidden layer of
    256): forward ``D*H + H*C`` MACs, backward twice that, times samples and epochs.
    """
    name = "mnist"
    X, y, X_test, y_test = _flat(datasets.load(name, data_dir, progress=False))
    n, dim = X.shape
    n_classes = len(np.unique(y))
    sizes = (100, 1000) if quick else (100, 1000, 10000, 60000)
    rows = []
    for max_neurons in tqdm(sizes, desc="energy", disable=not progress):
        measured, model = _count_training_macs(X, y, max_neurons, 0)
        analytic = (n - max_neurons) * (max_neurons / n_classes) * dim  # searches once full (growth is free)
        block = 512  # queries sharing one read of the bank (kernels' row blocks are larger than this)
        rows.append({"model": "memorynet", "max_neurons": max_neurons, "accuracy": float(model.score(X_test, y_test)),
                     "train_macs_per_sample_measured": measured / n, "train_macs_per_sample_analytic": analytic / n,
                     "train_bytes_per_sample": 4 * (analytic / n + 2 * dim),
                     "predict_macs": max_neurons * dim, "predict_bytes": 4 * (max_neurons * dim / block + dim),
                     "epochs": 1, "total_train_macs": measured})
    mlp = _mlp(200, 0)
    mlp.set_params(early_stopping=True)
    n_mlp = 10000 if quick else n  # quick: the MLP trains on the first 10000 images only
    _quiet_fit(mlp, X[:n_mlp], y[:n_mlp])
    forward = dim * MLP_HIDDEN + MLP_HIDDEN * n_classes
    weights_bytes = 4 * (forward + MLP_HIDDEN + n_classes)
    rows.append({"model": f"MLP (backprop, {n_mlp} images)", "max_neurons": None,
                 "accuracy": float(mlp.score(X_test, y_test)),
                 "train_macs_per_sample_analytic": 3 * forward, "train_macs_per_sample_measured": None,
                 "train_bytes_per_sample": weights_bytes * 3 / 200,  # weights read/written per 200-sample batch
                 "predict_macs": forward, "predict_bytes": weights_bytes / block, "epochs": int(mlp.n_iter_),
                 "total_train_macs": 3 * forward * n_mlp * int(mlp.n_iter_)})
    return {"dataset": name, "rows": rows}


# ----------------------------------------------------------------------------------------------------------------
# Reports


def fewshot_markdown(result: dict) -> str:
    lines = ["| data | model | " + " | ".join(f"{k}/class" for k in sorted({r['shots'] for r in result['rows']}))
             + " |"]
    shots = sorted({r["shots"] for r in result["rows"]})
    lines.append("|---|---|" + "---:|" * len(shots))
    for name in dict.fromkeys(r["dataset"] for r in result["rows"]):
        for model in dict.fromkeys(r["model"] for r in result["rows"]):
            cells = []
            for k in shots:
                acc = [r["accuracy"] for r in result["rows"]
                       if (r["dataset"], r["model"], r["shots"]) == (name, model, k)]
                cells.append(f"{100 * np.mean(acc):.1f} ± {100 * np.std(acc):.1f}")
            lines.append(f"| {name} | {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\nAccuracy (%) on the full test set, mean ± std over seeds.\n"


def energy_markdown(result: dict) -> str:
    lines = ["| model | max_neurons | test accuracy | train MACs / sample (measured) | train MACs / sample "
             "(analytic) | epochs | total train MACs | predict MACs / image | predict bytes / image |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        measured = f"{r['train_macs_per_sample_measured']:.3g}" if r["train_macs_per_sample_measured"] is not None \
            else "—"
        lines.append(f"| {r['model']} | {r['max_neurons'] or '—'} | {100 * r['accuracy']:.2f} % | {measured} | "
                     f"{r['train_macs_per_sample_analytic']:.3g} | {r['epochs']} | {r['total_train_macs']:.3g} | "
                     f"{r['predict_macs']:.3g} | {r['predict_bytes']:.3g} |")
    return "\n".join(lines) + "\n\nMNIST, multiply-adds (MACs) counted from the shapes used; memorynet's training " \
                              "count is also measured by instrumenting the distance kernel.\n"


def run_claim(name: str, out: str | Path, data_dir=None, quick: bool = False, progress: bool = True) -> list[Path]:
    """Run (or reuse) the named claim experiment and write its JSON, Markdown and PNG; return the paths."""
    from . import plots

    runners = {"fewshot": (run_fewshot, fewshot_markdown, plots.plot_fewshot),
               "continual": (continual.run_continual, continual.markdown, plots.plot_continual),
               "energy": (run_energy, energy_markdown, plots.plot_energy),
               "frontier": (frontier.run_frontier, frontier.markdown, frontier.figure)}
    if name not in runners:
        raise ValueError(f"unknown experiment {name!r}")
    run, to_md, to_png = runners[name]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    settings = {"experiment": name, "quick": quick}
    stored = read_results(path, ("settings",))
    same = stored is not None and stored.get("settings") == settings
    if name in ("frontier", "continual"):  # resumable: they keep every score and row that still stands
        fresh = run(data_dir, quick, progress, previous=stored if same else None)
        result = stored if same and all(stored.get(k) == v for k, v in fresh.items()) else fresh
    else:
        result = stored if same else run(data_dir, quick, progress)
    if result is not stored:
        result = {**result, "settings": settings, "version": __version__, "machine": machine_info()}
        write_results(path, result)
    md = to_md(result).encode()
    return [path, atomic_write(out / f"{name}.md", lambda fh: fh.write(md)), to_png(result, out / f"{name}.png")]
