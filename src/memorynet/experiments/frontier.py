"""The accuracy frontier under the project's rules (one pass, no gradients, no weight sharing): the best models,
each mechanism alone and combined, and the peers of the field, measured in one run.

``memorynet reproduce --only frontier [--quick]``. Every hyperparameter is chosen on the validation split carved
from the training set (the harness's fixed shuffle, last :data:`~memorynet.experiments.harness.VALIDATION_SIZE`
images held out): the dictionaries' patch grid, size and whitening among :data:`CANDIDATES`, and the readout
shrinkage of every LDA row among :data:`SHRINKAGES`; the receptive-field and paper rows keep the settings chosen
earlier on the same split (``rf-validation``, ``threshold``) and are scored on it too, so that the preset of each
data set is the model with the best validation accuracy. Then every row is fitted on the whole training set, seed
by seed, and scored once on the test set, with its fit and predict seconds, the peak of memory allocated while it
ran (traced: NumPy arrays and Python objects) and the number of values it learnt. A row may bring its own
validation grid (the receptive fields on deskewed digits try :data:`DESKEWED_RF_GRID`).

The run is resumable by trial: the results file keeps each data set's plan (its rows, candidates, seeds, shrinkages
and model defaults); while the seeds, shrinkages and defaults stand, an unchanged row (its own grid may grow) keeps
the validation scores of every trial it had fitted and its test runs while its choice is the same, so adding a
candidate, or a trial to a row's grid, fits that trial only (and measures the rows it wins).
"""

from __future__ import annotations

import functools
import json
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..io import datasets
from ..models import preprocessing
from ..models.base import MemoryEstimator
from ..models.parameters import parameter_defaults
from ..models.presets import PRESETS
from ..models.side_by_side import SideBySideClassifier, combined_evidence
from .harness import KINDS, make_estimator, summarize, validation_split_indices
from .peers import RandomFeatureLDA, StreamingLDA

__all__ = ["CANDIDATES", "DESKEWED_RF_GRID", "SHRINKAGES", "Entry", "entries", "run_frontier", "preset_choice",
           "side_by_side_choice", "summary", "markdown", "figure", "QUOTED"]

SHRINKAGES = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
HEADLINE = "dictionaries + triangle codes + LDA readout (headline)"
# A side-by-side row's members, first and second: the first's standardised evidence has weight 1, the second's weight
# is chosen among SIDE_WEIGHTS on validation after one fit (as the shrinkage is). On MNIST the receptive fields lead
# and the dictionaries add a little; on CIFAR-10 the dictionaries lead and the receptive fields add a little.
SIDE_MEMBERS = {"mnist": ("receptive-fields", "codes"), "cifar10": ("codes", "receptive-fields")}
SIDE_WEIGHTS = {"mnist": (0.02, 0.05, 0.1, 0.2, 0.5, 1.0), "cifar10": (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)}
PREDICTION_PARAMS = ("shrinkage", "weights")  # read at prediction only: tried after each fit, never fitted again
_MEMBER_KINDS = {"side-by-side": ("side-by-side", "receptive-fields", "codes")}  # the kinds a row's model fits
DESKEWED_RF = "local receptive fields on deskewed digits, summed class distances"
SIDE_BY_SIDE = {"mnist": "receptive fields on deskewed digits and dictionaries side by side, standardised evidences "
                         "added",
                "cifar10": "the best dictionaries and receptive fields side by side, standardised evidences added"}


def _grid(patch_size: int, stride: int, prototypes: int, whiten_eps: float | None, **more) -> dict:
    whitening = {} if whiten_eps is None else {"whiten_eps": whiten_eps}
    return {"patch_size": patch_size, "stride": stride, "max_neurons": prototypes, **whitening, **more}


# The dictionary model's settings tried on the validation split (the readout shrinkage is chosen for each).
# The last CIFAR-10 candidates are the recipe of the previous round (each dictionary learns from its own patch only,
# after a warm-up of 5000 images), for comparison.
_PREVIOUS_WARMUP = {"patch_jitter": 0, "whiten_images": 2000, "warmup": 5000}
# MNIST: the larger dictionaries last (128 prototypes won the first grid, at its edge)
CANDIDATES = {"mnist": (_grid(7, 3, 128, 1.0), _grid(7, 3, 128, 3.0), _grid(7, 3, 256, 3.0)),
              "cifar10": (_grid(8, 4, 128, 1.0), _grid(8, 4, 128, 3.0), _grid(8, 4, 256, 1.0), _grid(8, 4, 384, 1.0),
                          _grid(8, 4, 128, 1.0, **_PREVIOUS_WARMUP), _grid(8, 4, 384, 1.0, **_PREVIOUS_WARMUP))}
QUICK_CANDIDATES = {"mnist": (_grid(8, 4, 32, 1.0, warmup=1000, whiten_images=500),
                              _grid(7, 3, 32, 3.0, warmup=1000, whiten_images=500))}
# The receptive fields on deskewed digits: the geometries tried on the validation split, with a third of MNIST's
# training images per position, and with room for every one of them (each class then keeps about every patch it
# brings, up to its fair share of the memory, whatever the order of the classes). The last two: each bank learns the
# patches within a pixel of its position too (patch_jitter=1), with room for all of them (the largest class's 6742
# images x 9 patches in its fair share), on a coarse grid and on a finer one (benchmarks/field_jitter_probe.py
# measures finer grids and wider jitter)
_JITTERED = {"patch_jitter": 1}
DESKEWED_RF_GRID = (_grid(14, 7, 20000, None), _grid(12, 4, 20000, None), _grid(10, 6, 20000, None),
                    _grid(14, 7, 60000, None), _grid(12, 4, 60000, None), _grid(10, 6, 60000, None),
                    _grid(10, 4, 60000, None), _grid(10, 3, 60000, None), _grid(8, 4, 60000, None),
                    _grid(12, 3, 60000, None), _grid(10, 6, 610000, None, **_JITTERED),
                    _grid(10, 4, 610000, None, **_JITTERED))
QUICK_DESKEWED_RF_GRID = (_grid(14, 7, 500, None), _grid(12, 4, 500, None))
LARGER_SIZE = 512  # prototypes per position of the larger dictionaries' candidate (CIFAR-10)
# The receptive fields beside the dictionaries, fixed so that the pair's fit and prediction stay within the
# frontier's 5-minute budget. CIFAR-10: cifar10-rf's geometry with a tenth of its memory (the fields with room for
# every image add about 70 s of prediction for 0.13 validation points: benchmarks/side_by_side_probe.py). MNIST: the
# coarse jittered fields (the finer ones alone predict for about four minutes; beside the dictionaries' fit and
# prediction they would pass the budget). --quick: the first geometry of its grid.
FIELDS_BESIDE = {"cifar10": _grid(8, 4, 5000, None), "mnist": _grid(10, 6, 610000, None, **_JITTERED)}
SEEDS, QUICK_SEEDS = (0, 1, 2), (0, 1)  # the ablations run on the first seed only (each costs a headline fit)
QUICK_SIZES = (6000, 1000, 2000)  # --quick: training images (validation included), validation images, test images

# Published results, quoted for context (never mixed with measured ones).
QUOTED = [
    {"method": "RanDumb: random Fourier features + streaming LDA", "rules": "one pass, no gradients",
     "reported": "about 55-56", "source": "Prabhu et al. 2024, RanDumb"},
    {"method": "Forward-Forward, local receptive fields", "rules": "gradients (local), many epochs",
     "reported": "54-59", "source": "Hinton 2022, The Forward-Forward Algorithm"},
    {"method": "Hebbian hidden layer + gradient-trained top layer", "rules": "gradients on top, many epochs",
     "reported": "about 50", "source": "Krotov & Hopfield 2019, Unsupervised learning by competing hidden units"},
    {"method": "Memory Network (the paper)", "rules": "one pass, no gradients", "reported": "about 40",
     "source": "Ruiz & Gupta 2024"},
]


@dataclass(frozen=True)
class Entry:
    """One row of the table: a model kind on one preprocessing; ``fixed`` parameters as (name, value) pairs, and
    the row's own validation ``grid`` (parameter dicts) if it has one."""

    label: str
    dataset: str
    role: str  # "headline" (a candidate for the data set's -best preset), "ablation" or "peer"
    model: str  # "codes", "receptive-fields", "paper", "lda", "random-features"
    chain: str
    fixed: tuple = field(default_factory=tuple)
    grid: tuple = field(default_factory=tuple)


def _rf_preset(dataset: str) -> tuple[str, tuple]:
    chain, _, params = PRESETS[f"{dataset}-rf"]
    return chain, tuple((k, v) for k, v in params.items() if k != "n_jobs")


def entries(dataset: str, quick: bool) -> list[Entry]:
    """The rows measured for ``dataset``: the headline, its ablations and the peers."""
    chain, plain = {"mnist": "dog+standardize", "cifar10": "opponent+standardize"}[dataset], "standardize"
    rf_chain, rf_params = _rf_preset(dataset)
    if quick:
        rf_params = (("patch_size", 14), ("stride", 7), ("max_neurons", 500))
    fixed_features = 2048 if quick else 6272
    # the side-by-side row's members take the choices of the deskewed receptive fields and the dictionary headline
    deskewed = [Entry(DESKEWED_RF, dataset, "headline", "receptive-fields", f"deskew+{rf_chain}",
                      grid=QUICK_DESKEWED_RF_GRID if quick else DESKEWED_RF_GRID),
                Entry(SIDE_BY_SIDE[dataset], dataset, "headline", "side-by-side", f"deskew+{rf_chain}")] \
        if dataset == "mnist" else []
    # a larger dictionary on the standardised pixels: a headline candidate of its own, since the geometry the first
    # headline chooses is shared by the dictionary rows (and more prototypes cost memory the table shows)
    # and the best dictionaries with receptive fields beside them, on the same standardised pixels
    larger = [Entry(f"the same dictionaries without the fixed {chain.split('+')[0]} channels, "
                    f"{LARGER_SIZE} prototypes", dataset, "headline", "codes", plain,
                    (("max_neurons", LARGER_SIZE),)),
              Entry(SIDE_BY_SIDE[dataset], dataset, "headline", "side-by-side", plain)] \
        if dataset == "cifar10" and not quick else []
    return [
        Entry(HEADLINE, dataset, "headline", "codes", chain),
        Entry("the same without whitening", dataset, "ablation", "codes", chain, (("whiten_images", 0),)),
        # a candidate for the preset, not an ablation: the choice of chain is the validation split's too
        Entry(f"the same dictionaries without the fixed {chain.split('+')[0]} channels", dataset, "headline", "codes",
              plain),
        *larger,
        Entry("streaming LDA on the pixels (readout alone)", dataset, "peer", "lda", "scale"),
        Entry(f"fixed random features ({fixed_features}) + streaming LDA, RanDumb-style", dataset, "peer",
              "random-features", plain, (("n_components", fixed_features),)),
        Entry("local receptive fields, summed class distances (previous preset)", dataset, "peer",
              "receptive-fields", rf_chain, rf_params),
        Entry("the paper's model, 10000 neurons", dataset, "peer", "paper", "scale", (("max_neurons", 10000),)),
        *deskewed,
    ]


def _estimator(entry: Entry, params: dict, seed: int):
    params = {**params, **dict(entry.fixed)}  # what defines the row wins over what it takes from another
    spread = {"n_jobs": -1} if entry.model in ("codes", "receptive-fields", "side-by-side") else {}  # every core
    return make_estimator(entry.model, {**params, **spread}, seed)


def _learnt_values(model) -> int:
    """How many numbers the fitted model learnt from data (memories, readout statistics: one triangle of the
    covariance)."""
    if isinstance(model, RandomFeatureLDA):
        return _learnt_values(model.lda_)
    if isinstance(model, StreamingLDA):
        dim = model.n_features_in_
        return int(model.means_.size + dim * (dim + 1) // 2)
    if isinstance(model, SideBySideClassifier):
        return sum(_learnt_values(member) for member in model.estimators_)
    total = sum(bank.memories.size for bank in model.banks_)
    if not model.labelled_memories:  # a feature stage and readout: the readout's statistics too
        total += _learnt_values(model.readout_)
    return int(total)


def _fit_stream(model, X: np.ndarray, y: np.ndarray, seed: int):
    """``fit``, shuffled by ``seed`` for the learners that take rows as given (the memory models shuffle
    themselves)."""
    if isinstance(model, MemoryEstimator | SideBySideClassifier):
        return model.fit(X, y)
    order = np.random.default_rng(seed).permutation(len(X))
    return model.fit(X[order].reshape(len(X), -1), y[order])


def _predict(model, X: np.ndarray) -> np.ndarray:
    return model.predict(X if isinstance(model, MemoryEstimator | SideBySideClassifier) else X.reshape(len(X), -1))


class _Data:
    """A data set's training, validation and test parts, preprocessed once per chain."""

    def __init__(self, dataset: str, data_dir, quick: bool):
        self.raw = datasets.load(dataset, data_dir, progress=False)
        n_train, n_val = len(self.raw.y_train), None
        train, test = np.arange(n_train), np.arange(len(self.raw.y_test))
        if quick:
            n_train, n_val, n_test = QUICK_SIZES
            train, test = train[:n_train], test[:n_test]
        self.train, self.test = train, test
        self.fit_rows, self.val_rows = validation_split_indices(len(train), n_val)
        self._chains: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def chain(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._chains:
            self._chains[name] = tuple(preprocessing.apply(name, X[rows], self.raw.pixel_max) for X, rows in
                                       ((self.raw.X_train, self.train), (self.raw.X_test, self.test)))
        return self._chains[name]

    def split(self, chain: str, part: str) -> tuple[np.ndarray, np.ndarray]:
        X, X_test = self.chain(chain)
        y, y_test = self.raw.y_train[self.train], self.raw.y_test[self.test]
        if part == "train":
            return X, y
        if part == "test":
            return X_test, y_test
        rows = {"fit": self.fit_rows, "validation": self.val_rows}[part]
        return X[rows], y[rows]


def _settings(entry: Entry) -> list[dict]:
    """The prediction-time settings tried after each fit of ``entry``'s model: every readout shrinkage, every weight
    of a side-by-side model's second member (one setting, none, for the others)."""
    if entry.model in ("codes", "lda", "random-features"):
        return [{"shrinkage": shrinkage} for shrinkage in SHRINKAGES]
    if entry.model == "side-by-side":
        return [{"weights": [1.0, weight]} for weight in SIDE_WEIGHTS[entry.dataset]]
    return [{}]


def _predictions(model, settings: list[dict], X: np.ndarray) -> list[np.ndarray]:
    """The fitted ``model``'s predictions of ``X`` under each of ``settings`` (a side-by-side model's members
    describe the images once for all its weights)."""
    if isinstance(model, SideBySideClassifier):
        evidence = model.member_evidence(X)
        return [model.classes_[np.argmax(combined_evidence(evidence, s["weights"]), axis=1)] for s in settings]
    return [_predict(model.set_params(**setting), X) for setting in settings]


def _validate(entry: Entry, data: _Data, trials: list[dict]) -> tuple[dict, list[dict]]:
    """The parameters ``entry`` takes from the validation split among ``trials`` (and every prediction-time
    setting: :func:`_settings`), and every score behind the choice."""
    X, y = data.split(entry.chain, "fit")
    X_val, y_val = data.split(entry.chain, "validation")
    scored = []
    for trial in trials:
        model = _estimator(entry, trial, seed=0)
        start = time.perf_counter()
        _fit_stream(model, X, y, seed=0)
        seconds = time.perf_counter() - start
        settings = _settings(entry)
        for setting, predicted in zip(settings, _predictions(model, settings, X_val)):
            scored.append({"dataset": entry.dataset, "label": entry.label, "role": entry.role, "model": entry.model,
                           "params": {**trial, **dict(entry.fixed)} | setting,
                           "accuracy": float(np.mean(predicted == y_val)), "fit_seconds": seconds,
                           "n_fit": len(y), "n_validation": len(y_val)})
    return _choice(scored), scored


def _choice(scored: list[dict]) -> dict:
    """The parameters of the best validation score (first of equals: the smaller model, the lower shrinkage)."""
    return max(scored, key=lambda r: r["accuracy"])["params"]


def _measure(entry: Entry, params: dict, data: _Data, seed: int) -> dict:
    X, y = data.split(entry.chain, "train")
    X_test, y_test = data.split(entry.chain, "test")
    model = _estimator(entry, params, seed)
    tracemalloc.start()
    try:
        start = time.perf_counter()
        _fit_stream(model, X, y, seed)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        predictions = _predict(model, X_test)
        predict_seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {"dataset": entry.dataset, "label": entry.label, "role": entry.role, "seed": seed,
            "params": {**params, **dict(entry.fixed)},
            "accuracy": float(np.mean(predictions == y_test)), "fit_seconds": fit_seconds,
            "predict_seconds": predict_seconds, "peak_bytes": int(peak), "learnt_values": _learnt_values(model),
            "n_train": len(y), "n_test": len(y_test)}


def _plan(name: str, quick: bool) -> dict:
    """What defines a data set's runs (as the results file stores it): its rows, candidates, seeds, shrinkages
    and the defaults of every model kind they fit."""
    todo = entries(name, quick)
    defaults = {entry.model: {k: repr(v) for k, v in parameter_defaults(KINDS[entry.model]).items()}
                for entry in todo}
    plan = {"entries": [asdict(entry) for entry in todo],
            "candidates": (QUICK_CANDIDATES if quick else CANDIDATES)[name],
            "seeds": QUICK_SEEDS if quick else SEEDS, "shrinkages": SHRINKAGES, "side_weights": SIDE_WEIGHTS[name],
            "defaults": defaults}
    return json.loads(json.dumps(plan))


def _earlier(previous: dict | None, name: str, plan: dict, entry: dict) -> tuple[list[dict], list[dict]]:
    """The validation scores and test rows of ``entry`` (as ``plan`` stores it) in ``previous`` that still stand:
    the entry is unchanged but for its own grid, and so are the data set's seeds, shrinkages, side-by-side weights
    (for a side-by-side row) and the defaults of the model kinds the entry fits (the candidates and the grid may
    differ: each stored score names the parameters it was fitted with)."""
    old = (previous or {}).get("plans", {}).get(name)
    gridless = lambda e: {k: v for k, v in e.items() if k != "grid"}  # noqa: E731
    kinds = _MEMBER_KINDS.get(entry["model"], (entry["model"],))
    if old is None or gridless(entry) not in map(gridless, old["entries"]) or any(
            old.get(key) != plan[key] for key in ("seeds", "shrinkages")) or \
            entry["model"] == "side-by-side" and old.get("side_weights") != plan["side_weights"] or \
            any(old["defaults"].get(kind) != plan["defaults"].get(kind) for kind in kinds):
        return [], []
    mine = (name, entry["label"])
    return ([v for v in previous["validation"] if (v["dataset"], v["label"]) == mine],
            [r for r in previous["rows"] if (r["dataset"], r["label"]) == mine])


def _geometry(params: dict) -> str:
    """What a trial fits, as a comparable key: its parameters less those read at prediction only (chosen after the
    fit: :data:`PREDICTION_PARAMS`)."""
    return json.dumps({k: v for k, v in params.items() if k not in PREDICTION_PARAMS}, sort_keys=True)


def _scores(entry: Entry, data, trials: list[dict], stored: list[dict]) -> tuple[dict, list[dict]]:
    """:func:`_validate` over ``trials``, taking the scores of a trial from ``stored`` where they are there."""
    keys = [_geometry({**trial, **dict(entry.fixed)}) for trial in trials]
    missing = [trial for trial, key in zip(trials, keys) if not any(_geometry(v["params"]) == key for v in stored)]
    fresh = _validate(entry, data(), missing)[1] if missing else []
    scored = [v for key in keys for v in ([v for v in stored if _geometry(v["params"]) == key]
                                          or [v for v in fresh if _geometry(v["params"]) == key])]
    return _choice(scored), scored


def _side_by_side(dataset: str, codes: dict, quick: bool) -> dict:
    """The side-by-side row's members (:data:`SIDE_MEMBERS`): the ``codes`` (the dictionaries of the headline row
    before it with the best validation score) and the receptive fields of :data:`FIELDS_BESIDE` (--quick: the
    first of its grid)."""
    chosen = {"receptive-fields": QUICK_DESKEWED_RF_GRID[0] if quick else FIELDS_BESIDE[dataset], "codes": codes}
    return {"members": [[kind, chosen[kind]] for kind in SIDE_MEMBERS[dataset]]}


def run_frontier(data_dir=None, quick: bool = False, progress: bool = True, previous: dict | None = None) -> dict:
    """Choose on validation, then measure every row on the test set; a JSON-ready dict. What ``previous`` (an
    earlier result) holds is kept where it still stands (see :func:`_earlier`): the validation score of an unchanged
    trial, and the test rows of an unchanged row whose choice is the same."""
    names = ("mnist",) if quick else ("mnist", "cifar10")
    seeds = QUICK_SEEDS if quick else SEEDS
    validation, rows, plans = [], [], {}
    for name in names:
        plans[name] = _plan(name, quick)
        data = functools.cache(functools.partial(_Data, name, data_dir, quick))  # loaded once something runs
        candidates = (QUICK_CANDIDATES if quick else CANDIDATES)[name]
        todo = entries(name, quick)
        runs = sum(1 + (1 if entry.role == "ablation" else len(seeds)) for entry in todo)
        bar = tqdm(total=runs, desc=f"frontier {name}", unit="run", disable=not progress)
        geometry: dict = {}
        best_codes: tuple[float, dict] = (-1.0, {})  # the dictionary headline rows' best validation score, choice
        for entry, stored in zip(todo, plans[name]["entries"]):  # the dictionary headline first: the other
            dictionary_headline = entry.model == "codes" and not geometry  # dictionary rows take its geometry
            trials = [*entry.grid] or (list(candidates) if dictionary_headline else [geometry]
                                       if entry.model == "codes" else [_side_by_side(name, best_codes[1], quick)]
                                       if entry.model == "side-by-side" else [{}])
            old_scores, old_rows = _earlier(previous, name, plans[name], stored)
            params, scored = _scores(entry, data, trials, old_scores)
            if dictionary_headline:
                geometry = {k: v for k, v in params.items() if k != "shrinkage"}
            validation += scored
            bar.update()
            chosen = json.loads(json.dumps({**params, **dict(entry.fixed)}))
            score = max(v["accuracy"] for v in scored)
            if entry.role == "headline" and entry.model == "codes" and score > best_codes[0]:
                best_codes = (score, chosen)
            for seed in seeds if entry.role != "ablation" else seeds[:1]:
                kept = [r for r in old_rows if r["seed"] == seed and r["params"] == chosen]
                rows += kept or [{**_measure(entry, params, data(), seed), "chain": entry.chain,
                                  "entry": asdict(entry)}]
                bar.update()
        bar.close()
    return {"validation": validation, "rows": rows, "quoted": QUOTED, "seeds": list(seeds),
            "presets": preset_choice(validation), "plans": plans}


def side_by_side_choice(result: dict, dataset: str) -> tuple[str, dict]:
    """The side-by-side row of ``dataset`` in ``result``: its preprocessing chain and its validation choice (its
    members and their weights)."""
    mine = lambda r: (r["dataset"], r["label"]) == (dataset, SIDE_BY_SIDE[dataset])  # noqa: E731
    chain = next(r["chain"] for r in result["rows"] if mine(r))
    return chain, _choice([v for v in result["validation"] if mine(v)])


def preset_choice(validation: list[dict]) -> dict:
    """Per data set, the row and parameters with the best validation accuracy among the headline model and the
    receptive fields (the candidates for the data set's ``-best`` preset)."""
    out = {}
    for v in validation:
        candidate = v["role"] == "headline" or v["model"] == "receptive-fields"
        if candidate and (v["dataset"] not in out or v["accuracy"] > out[v["dataset"]]["accuracy"]):
            out[v["dataset"]] = {"label": v["label"], "params": v["params"], "accuracy": v["accuracy"]}
    return out


# ----------------------------------------------------------------------------------------------------------------
# Reporting


def summary(result: dict) -> list[dict]:
    """One line per (data set, row): accuracy mean and std over seeds, median costs."""
    out = []
    for runs, stats in summarize(result["rows"], lambda r: (r["dataset"], r["label"]),
                                 medians=("fit_seconds", "predict_seconds", "peak_bytes", "learnt_values")):
        mean, std = stats.pop("accuracy")
        first = runs[0]
        out.append({"dataset": first["dataset"], "label": first["label"], "role": first["role"],
                    "params": first["params"], "chain": first["chain"], "mean": mean, "std": std, **stats})
    return out


def _params_text(params: dict) -> str:
    """``k=v, ...``; a side-by-side model's members as ``kind (k=v, ...) + ...``."""
    def text(key, value) -> str:
        return " + ".join(f"{kind} ({_params_text(p)})" for kind, p in value) if key == "members" else str(value)
    return ", ".join(f"{k}={text(k, v)}" for k, v in params.items()) or "—"


def markdown(result: dict) -> str:
    """The test table, the validation choices behind it, and the quoted figures, apart."""
    lines = ["| data | model | role | preprocessing | chosen on validation | test accuracy (mean ± std) | seeds "
             "| fit s | predict s | peak memory MB | values learnt |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in summary(result):
        lines.append(f"| {r['dataset']} | {r['label']} | {r['role']} | {r['chain']} | {_params_text(r['params'])} "
                     f"| {100 * r['mean']:.2f} ± {100 * r['std']:.2f} % | {r['seeds']} | {r['fit_seconds']:.1f} "
                     f"| {r['predict_seconds']:.1f} | {r['peak_bytes'] / 2 ** 20:.0f} | {r['learnt_values']:.3g} |")
    lines += ["", "Fit on the whole training set and scored once on the test set; seconds and memory are medians over "
              "seeds (peak memory: NumPy and Python allocations traced during fit and predict). The seed orders the "
              "stream (and draws the random features); streaming LDA on pixels does not depend on the order.", "",
              "**Validation (the choices above)**", "",
              "| data | model | parameters | validation accuracy | fit s |", "|---|---|---|---:|---:|"]
    best: dict[tuple, dict] = {}
    for v in result["validation"]:
        key = (v["dataset"], v["label"], _geometry(v["params"]))
        if key not in best or v["accuracy"] > best[key]["accuracy"]:
            best[key] = v
    for v in best.values():
        lines.append(f"| {v['dataset']} | {v['label']} | {_params_text(v['params'])} | {100 * v['accuracy']:.2f} % "
                     f"| {v['fit_seconds']:.1f} |")
    lines += ["", "Each configuration at its best shrinkage; fitted on the training set less the validation images.",
              "", "**Quoted from papers (CIFAR-10, not measured here)**", "",
              "| method | rules | accuracy (%) | source |", "|---|---|---|---|"]
    lines += [f"| {q['method']} | {q['rules']} | {q['reported']} | {q['source']} |" for q in result["quoted"]]
    return "\n".join(lines) + "\n"


def figure(result: dict, path) -> Path:
    """The accuracy-against-cost plot of every row."""
    from .plots import plot_frontier

    return plot_frontier(summary(result), path)
