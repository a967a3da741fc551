"""The paper's experiments declared as data, run as resumable grids, summarised as tables and figures.

An :class:`Experiment` is a named list of :class:`RunConfig` (data set, preprocessing, ``max_neurons``,
threshold quantile, distance, channel voting) times a list of seeds. :func:`run_experiment` runs every
(config, seed) pair not already in ``<out>/<name>.json`` (so an interrupted reproduction resumes), in parallel
with joblib (or on a Dask cluster), and writes the JSON after every finished run; :func:`write_report` turns the
JSON into ``<name>.md`` and its plot.

Hyperparameters are chosen on validation data only: the ``threshold`` experiment scores threshold quantiles on a
validation split carved from the training set (``split="validation"``: the last 10000 training images of a
fixed shuffle); the test set is used only to report the other experiments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, parallel_config
from sklearn.neighbors import NearestCentroid
from tqdm.auto import tqdm

from .. import __version__
from ..io import datasets
from ..io.atomic import atomic_write
from ..models import preprocessing
from ..models.presets import PRESETS
from . import harness
from .evaluation import machine_info, timed_fit_predict
from .harness import KINDS, read_results, validation_split_indices, write_results
from .thresholds import threshold_from_quantile

__all__ = ["RunConfig", "Experiment", "EXPERIMENTS", "experiment", "run_one", "run_experiment", "summarize",
           "write_report"]

# Threshold quantiles chosen on the validation split by `memorynet reproduce --only threshold` (see README).
MNIST_QUANTILE = 0.1
CIFAR_QUANTILE = 0.5


@dataclass(frozen=True)
class RunConfig:
    """One configuration of the grid; ``model`` is either ``"memorynet"`` or a baseline (``"1-nn"``, ``"ncm"``)."""

    label: str
    dataset: str
    max_neurons: int = 1000
    threshold_quantile: float | None = None
    distance: str = "l2"
    channel_voting: bool = False
    preprocessing: str = "scale"
    split: str = "test"
    model: str = "memorynet"
    n_neighbors: int = 1
    weights: str = "uniform"
    p: float = 2.0
    class_budget: str = "shared"
    consolidate: bool = False
    patch_size: int | None = None  # local receptive fields when set
    stride: int | None = None
    search_backend: str = "numpy"

    def key(self) -> str:
        """Canonical text of the configuration (fields at their defaults left out, so results written before a
        field existed still match), used to recognise runs already done."""
        defaults = RunConfig(self.label, self.dataset)
        return json.dumps({k: v for k, v in asdict(self).items()
                           if k in ("label", "dataset") or v != getattr(defaults, k)}, sort_keys=True)


@dataclass(frozen=True)
class Experiment:
    """A named grid: configurations x seeds, and what to print beside it."""

    name: str
    title: str
    configs: tuple[RunConfig, ...]
    seeds: tuple[int, ...]
    paper: str = ""
    baselines: tuple[RunConfig, ...] = field(default_factory=tuple)
    plot: bool = False


def _log_space(low: int, high: int, count: int) -> tuple[int, ...]:
    return tuple(int(v) for v in np.unique(np.round(np.geomspace(low, high, count)).astype(int)))


def _baselines(dataset: str, quick: bool = False) -> tuple[RunConfig, ...]:
    """1-NN with every training image a neuron, and the nearest class mean (``quick``: the class mean alone; the
    1-NN figures are the exact reference checks the tests make elsewhere)."""
    n_train = 60000 if dataset in ("mnist", "fashion-mnist") else 50000
    ncm = RunConfig("nearest class mean", dataset, model="ncm")
    return (ncm,) if quick else (RunConfig("1-NN (every training image a neuron)", dataset, n_train, model="1-nn"), ncm)


def _sweep(dataset: str, sizes: Iterable[int], quantile: float) -> tuple[RunConfig, ...]:
    return tuple(RunConfig(label, dataset, n, q) for label, q in (("no threshold", None), ("threshold", quantile))
                 for n in sizes)


def _cifar_table(n: int) -> tuple[RunConfig, ...]:
    q = CIFAR_QUANTILE
    return (
        RunConfig("1. no threshold, L2, scaled", "cifar10", n),
        RunConfig("2. threshold", "cifar10", n, q),
        RunConfig("3. channel voting", "cifar10", n, channel_voting=True),
        RunConfig("4. threshold + channel voting", "cifar10", n, q, channel_voting=True),
        RunConfig("5. L1 distance", "cifar10", n, distance="l1"),
        RunConfig("6. raw pixels (0-255), threshold", "cifar10", n, q, preprocessing="raw"),
        RunConfig("7. per-image standardised", "cifar10", n, preprocessing="standardize"),
        RunConfig("8. grayscale", "cifar10", n, preprocessing="grayscale"),
    )


def _threshold_tuning(dataset: str, max_neurons: int, quantiles) -> tuple[RunConfig, ...]:
    return tuple(RunConfig("no threshold" if q is None else f"threshold q={q}", dataset, max_neurons, q,
                           split="validation") for q in quantiles)


def _ablation(dataset: str, n: int, step: str, quick: bool) -> tuple[RunConfig, ...]:
    """Each mechanism alone against the paper's model (``n`` neurons), then cumulative combinations ending at the
    data set's receptive-field preset (``<dataset>-rf``: its patch size, stride, chain and neurons per position,
    chosen on the validation split; ``step`` is the chain's first step alone; ``quick``: the preset's geometry at
    ``n`` neurons and ``step`` for its chain). See the documentation's "Beyond the paper"."""
    chain, _, preset_params = PRESETS[f"{dataset}-rf"]
    best = (step, step, n) if quick else (step, chain, preset_params["max_neurons"])
    base = RunConfig("paper's model (L2, scaled pixels)", dataset, n)
    ps, st = preset_params["patch_size"], preset_params["stride"]
    rf = replace(base, label=f"local receptive fields {ps}px, stride {st}px", patch_size=ps, stride=st)
    alone = [
        base,
        replace(base, label="L1 distance", distance="l1", search_backend="faiss"),
        replace(base, label="cosine distance", distance="cosine"),
        replace(base, label="5 nearest neurons, distance-weighted", n_neighbors=5, weights="distance"),
        replace(base, label="per-image standardisation", preprocessing="standardize"),
        replace(base, label="local contrast normalisation", preprocessing="lcn"),
        replace(base, label="difference of Gaussians (centre-surround)", preprocessing="dog"),
        replace(base, label="class-balanced budget", class_budget="balanced"),
        replace(base, label="threshold q=0.9 + consolidation", threshold_quantile=0.9, consolidate=True),
        rf,
    ]
    if dataset == "cifar10":
        alone += [replace(base, label="opponent colours, standardised", preprocessing="opponent+standardize"),
                  replace(base, label="channel voting", channel_voting=True)]
    first, chain, neurons = best
    combined = [replace(rf, label=f"local receptive fields + {first}", preprocessing=first),
                replace(rf, label=f"local receptive fields + {chain} (preset)", preprocessing=chain,
                        max_neurons=neurons)]
    if quick:
        return (base, alone[4], alone[6], rf, combined[0])
    return tuple(alone + combined)


def _rf_validation_run(dataset: str, chain: str, patch_size: int, stride: int, neurons: int,
                       class_budget: str = "shared") -> RunConfig:
    """One receptive-field setting scored on the validation split; a budget other than the default names itself."""
    budget = "" if class_budget == "shared" else f", {class_budget} class budget"
    return RunConfig(f"receptive fields {patch_size}px/{stride}px{budget}", dataset, neurons, preprocessing=chain,
                     patch_size=patch_size, stride=stride, split="validation", class_budget=class_budget)


def experiment(name: str, quick: bool = False) -> Experiment:
    """The named experiment, full or ``quick`` (fewer values, 2 seeds)."""
    if name == "mnist":
        sizes = (100, 1000, 10000) if quick else (10, 30, 100, 300, 1000, 3000, 10000, 30000, 60000)
        return Experiment("mnist", "MNIST: accuracy against max_neurons, with and without threshold",
                          _sweep("mnist", sizes, MNIST_QUANTILE), (0, 1) if quick else (0, 1, 2),
                          "up to about 97 % with tens of thousands of neurons", _baselines("mnist", quick), plot=True)
    if name == "cifar10":
        configs = _cifar_table(1000)[:4] if quick else _cifar_table(5000)  # quick: threshold x channel voting
        return Experiment("cifar10", f"CIFAR-10: {len(configs)} configurations at a fixed budget", configs,
                          (0, 1) if quick else (0, 1, 2),
                          "about 40 %", _baselines("cifar10", quick))
    if name == "figure2":
        sizes = (100, 1000, 3000) if quick else _log_space(10, 50000, 14)
        return Experiment("figure2", "Figure 2: CIFAR-10 accuracy against number of neurons (mean ± std)",
                          _sweep("cifar10", sizes, CIFAR_QUANTILE), (0, 1) if quick else (0, 1, 2, 3, 4),
                          "about 40 %, plateauing as neurons grow", _baselines("cifar10", quick), plot=True)
    if name == "threshold":
        # Unlimited budget: the threshold alone decides how many neurons grow (with a small budget the memory
        # fills within the first batches whatever the threshold).
        if quick:
            configs = _threshold_tuning("mnist", 5000, (None, 0.1, 0.5))
        else:
            quantiles = (None, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9)
            configs = _threshold_tuning("mnist", 60000, quantiles) + _threshold_tuning("cifar10", 50000, quantiles)
        return Experiment("threshold", "Threshold quantile on the validation split (hyperparameter choice)",
                          configs, (0, 1))
    if name == "rf-validation":
        # The receptive-field settings tried before choosing the presets, all on the validation split.
        grid = {"mnist": [("scale", 14, 7, 20000), ("dog", 14, 7, 6000), ("dog", 10, 6, 6000), ("dog", 12, 4, 6000),
                          ("dog", 14, 7, 20000), ("dog+standardize", 14, 7, 6000), ("dog+standardize", 14, 7, 20000),
                          ("dog+standardize", 12, 4, 6000)],
                "cifar10": [("standardize", 16, 8, 5000), ("opponent+standardize", 16, 8, 5000), ("lcn", 16, 8, 5000),
                            ("standardize", 8, 4, 5000), ("standardize", 12, 4, 5000),
                            ("opponent+standardize", 8, 4, 5000), ("opponent+standardize", 8, 4, 10000),
                            # the presets' fair class budget, with the memory of the first choice and with room for
                            # every image (the cifar10-rf preset: the same memory whatever the order of the classes)
                            ("opponent+standardize", 8, 4, 5000, "fair"),
                            ("opponent+standardize", 8, 4, 50000, "fair")]}
        if quick:
            grid = {"mnist": [("dog", 14, 7, 1000)]}
        configs = tuple(_rf_validation_run(dataset, *row) for dataset, rows in grid.items() for row in rows)
        return Experiment("rf-validation", "Local receptive fields on the validation split (preset choice)", configs,
                          (0,))
    if name == "ablation":
        if quick:
            configs = _ablation("mnist", 1000, "dog", True)
        else:
            configs = _ablation("mnist", 6000, "dog", False) + _ablation("cifar10", 5000, "standardize", False)
        return Experiment("ablation", "Beyond the paper: each mechanism alone, then combined (one pass)", configs,
                          (0, 1) if quick else (0, 1, 2), "about 97 % (MNIST) and about 40 % (CIFAR-10)")
    raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")


EXPERIMENTS = ("mnist", "cifar10", "figure2", "threshold", "rf-validation", "ablation")


# ----------------------------------------------------------------------------------------------------------------
# Running


def _split(config: RunConfig, data_dir) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ds = datasets.load(config.dataset, data_dir, progress=False)
    X_train = preprocessing.apply(config.preprocessing, ds.X_train, ds.pixel_max)
    X_test = preprocessing.apply(config.preprocessing, ds.X_test, ds.pixel_max)
    if config.split == "test":
        return X_train, ds.y_train, X_test, ds.y_test
    fit, held = validation_split_indices(len(X_train))
    return X_train[fit], ds.y_train[fit], X_train[held], ds.y_train[held]


_EXPERIMENT_FIELDS = {"label", "dataset", "threshold_quantile", "preprocessing", "split", "model"}


def _estimator(config: RunConfig, X_train, y_train, seed: int):
    """The configured estimator; every RunConfig field that is one of its parameters is passed on, so no setting
    is dropped for one kind of model."""
    if config.model == "ncm":
        return NearestCentroid()
    if config.model == "1-nn":
        return KINDS["paper"](max_neurons=len(X_train), random_state=seed)
    cls = KINDS["paper" if config.patch_size is None else "receptive-fields"]
    accepted, defaults = cls().get_params(), RunConfig(config.label, config.dataset)
    params = {k: v for k, v in asdict(config).items() if k in accepted}
    ignored = [k for k, v in asdict(config).items()
               if k not in accepted and k not in _EXPERIMENT_FIELDS and v != getattr(defaults, k)]
    if ignored:
        raise ValueError(f"{config.label!r}: {cls.__name__} has no parameter {', '.join(ignored)}")
    if config.threshold_quantile is not None:
        params["threshold"] = threshold_from_quantile(X_train, y_train, config.threshold_quantile, config.distance,
                                                      p=config.p, random_state=seed)
    return cls(**params, random_state=seed)


def run_one(config: RunConfig, seed: int, data_dir=None) -> dict:
    """Train on the config's training split in one pass, score on its test (or validation) split."""
    X_train, y_train, X_test, y_test = _split(config, data_dir)
    estimator = _estimator(config, X_train, y_train, seed)
    flat = (lambda X: X.reshape(len(X), -1)) if config.model == "ncm" else (lambda X: X)
    predictions, train_seconds, predict_seconds = timed_fit_predict(estimator, flat(X_train), y_train, flat(X_test))
    return {"config": asdict(config), "seed": seed, "accuracy": float(np.mean(predictions == y_test)),
            "n_neurons": int(getattr(estimator, "n_neurons_", len(getattr(estimator, "classes_", [])))),
            "threshold": getattr(estimator, "threshold", None), "train_seconds": train_seconds,
            "predict_seconds": predict_seconds, "version": __version__, "machine": machine_info()}


def _pending(exp: Experiment, done: list[dict]) -> list[tuple[RunConfig, int]]:
    finished = {(RunConfig(**r["config"]).key(), r["seed"]) for r in done}
    todo = [(c, s) for c in exp.configs for s in exp.seeds]
    todo += [(c, exp.seeds[0]) for c in exp.baselines]  # baselines do not depend on the seed
    return [(c, s) for c, s in todo if (c.key(), s) not in finished]


def _read_runs(path: Path) -> list[dict]:
    stored = read_results(path, ("runs",))
    runs = [] if stored is None else stored["runs"]
    if not isinstance(runs, list) or not all(isinstance(r, dict) and {"config", "seed"} <= set(r) for r in runs):
        raise ValueError(f"{path}: its 'runs' are not memorynet runs (each a config and a seed); move it away to "
                         "start afresh")
    return runs


def _write_runs(path: Path, exp: Experiment, runs: list[dict]) -> None:
    write_results(path, {"experiment": exp.name, "title": exp.title, "paper": exp.paper, "runs": runs})


@contextmanager
def _locked(path: Path):
    """An exclusive lock on ``<path>.lock`` (held by one writer at a time, across processes)."""
    import fcntl

    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _add_run(path: Path, exp: Experiment, run: dict) -> list[dict]:
    """Add ``run`` to the results file, merged with whatever other writers saved there meanwhile; returns all runs.

    Under the lock the file is read again, so concurrent ``reproduce`` runs into one folder never drop each
    other's results (a run already present, same configuration and seed, is not added twice)."""
    with _locked(path):
        runs = _read_runs(path)
        key = (RunConfig(**run["config"]).key(), run["seed"])
        if key not in {(RunConfig(**r["config"]).key(), r["seed"]) for r in runs}:
            runs.append(run)
        _write_runs(path, exp, runs)
    return runs


def run_experiment(exp: Experiment, out: str | Path, *, data_dir=None, jobs: int = 1, scheduler: str | None = None,
                   progress: bool = True) -> list[dict]:
    """Run every (config, seed) of ``exp`` missing from ``<out>/<name>.json``; return all runs.

    ``jobs`` runs in parallel with joblib's process pool; ``scheduler`` (a ``dask.distributed`` address) sends
    them to a Dask cluster instead. Each finished run is merged into the JSON at once, under a file lock, so
    several ``reproduce`` processes may share one output folder without losing results.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{exp.name}.json"
    runs = _read_runs(path)
    todo = _pending(exp, runs)
    if not todo:
        return runs
    tasks = (delayed(run_one)(config, seed, data_dir) for config, seed in todo)
    bar = tqdm(total=len(todo), desc=exp.name, unit="run", disable=not progress)
    with _backend(scheduler):
        for result in Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks):
            runs = _add_run(path, exp, result)
            bar.update()
    bar.close()
    return runs


@contextmanager
def _backend(scheduler: str | None):
    """joblib's default process pool, or its Dask backend bound to the cluster at ``scheduler``."""
    if scheduler is None:
        yield
        return
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise ImportError("--scheduler needs dask.distributed: pip install 'memorynet[dask]'") from exc
    with Client(scheduler), parallel_config(backend="dask"):
        yield


# ----------------------------------------------------------------------------------------------------------------
# Reporting


def summarize(runs: list[dict]) -> list[dict]:
    """One row per configuration: mean and std of accuracy over seeds, median neurons and timings."""
    rows = []
    for members, stats in harness.summarize(runs, lambda run: RunConfig(**run["config"]).key(),
                                            medians=("n_neurons", "train_seconds", "predict_seconds")):
        mean, std = stats.pop("accuracy")
        rows.append({"config": members[0]["config"], "n_seeds": stats.pop("seeds"), "mean": mean, "std": std,
                     **stats})
    return rows


def _order(exp: Experiment, rows: list[dict]) -> list[dict]:
    position = {c.key(): i for i, c in enumerate(exp.configs + exp.baselines)}
    known = [r for r in rows if RunConfig(**r["config"]).key() in position]
    return sorted(known, key=lambda r: position[RunConfig(**r["config"]).key()])


def markdown_table(exp: Experiment, runs: list[dict]) -> str:
    """The experiment's table: accuracy mean ± std per configuration, baselines and the paper's figure."""
    rows = _order(exp, summarize(runs))
    lines = [f"## {exp.title}", "",
             "| data | configuration | max_neurons | preprocessing | accuracy (mean ± std) | seeds | neurons used "
             "| train s | predict s |", "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        c = r["config"]
        extra = [f"q={c['threshold_quantile']}" if c["threshold_quantile"] is not None else "",
                 "channel voting" if c["channel_voting"] else "", c["distance"] if c["distance"] != "l2" else ""]
        extra = [e for e in extra if e and e.lower() not in c["label"].lower()]
        name = c["label"] + (f" ({', '.join(extra)})" if extra else "")
        budget = c["max_neurons"] if c["model"] == "memorynet" else "—"
        budget = f"{budget} per position" if c.get("patch_size") else budget
        lines.append(f"| {c['dataset']} | {name} | {budget} | {c['preprocessing']} "
                     f"| {100 * r['mean']:.2f} ± {100 * r['std']:.2f} % | {r['n_seeds']} | {r['n_neurons']:.0f} "
                     f"| {r['train_seconds']:.2f} | {r['predict_seconds']:.2f} |")
    split = {r["config"]["split"] for r in rows}
    lines += ["", f"Scored on the {'/'.join(sorted(split))} split; times are medians over seeds."]
    if exp.paper:
        lines.append(f"The paper reports {exp.paper}.")
    return "\n".join(lines) + "\n"


def write_report(exp: Experiment, runs: list[dict], out: str | Path) -> list[Path]:
    """Write ``<out>/<name>.md`` and, for sweeps, ``<out>/<name>.png``; return the paths written."""
    out = Path(out)
    text = markdown_table(exp, runs).encode()
    written = [atomic_write(out / f"{exp.name}.md", lambda fh: fh.write(text))]
    if exp.plot:
        from .plots import plot_sweep

        written.append(plot_sweep(exp, summarize(runs), out / f"{exp.name}.png"))
    return written
