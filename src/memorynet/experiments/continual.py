"""Class-incremental learning measured the field's way: Split-MNIST and Split-CIFAR-10 (5 tasks of 2 classes,
one head, no task identity at test time), every learner seeing each training image once.

The accuracy matrix ``R[i, j]`` is the accuracy on task j's test images after learning task i (``NaN`` for tasks
not learnt yet). From it: average accuracy (the last row's mean), backward transfer (Lopez-Paz & Ranzato 2017),
forgetting (Chaudhry et al. 2018: best earlier accuracy on a task minus the final one) and forgetting as Avalanche
reports it (accuracy right after learning a task minus the final one). Every learner runs in the same process on
the same stream: the paper's model, the receptive-field and ``-best`` presets, ``cifar10-best``'s dictionaries alone
(on MNIST), and the peers: streaming LDA (shrinkage chosen on a validation split carved from the training set),
nearest class mean, an MLP fine-tuned task after task, the same MLP with 200- and 500-image replay buffers, and
per-class online k-means with as many prototypes as the Memory Network has neurons.

The run is resumable by learner: each row records its learner's definition (every parameter, nested ones
included), and a run given an earlier result keeps every row whose data set, seed, learner and definition are
unchanged, so rebinding a preset measures that preset's rows only.
"""

from __future__ import annotations

import json
import time

import numpy as np
from tqdm.auto import tqdm

from ..io import datasets
from ..models.memory_network import MemoryNetworkClassifier
from ..models.preprocessing import scale_pixels
from ..models.presets import PRESETS, adjust, preset
from ..models.streaming import learn_chunk
from .harness import VALIDATION_SIZE, summarize, validation_split_indices
from .peers import NearestClassMean, PerClassKMeans, ReplayMLP, StreamingLDA

__all__ = ["split_tasks", "average_accuracy", "backward_transfer", "forgetting", "forgetting_after_learning",
           "select_shrinkage", "definition", "run_continual", "summary", "markdown", "QUOTED", "SHRINKAGES"]

NEURONS = 2000  # the paper model's budget here; k-means gets NEURONS / n_classes prototypes per class
SHRINKAGES = (1e-4, 1e-3, 1e-2, 1e-1, 0.5)

# Published results, quoted (never mixed with measured ones): multi-epoch training, other architectures.
QUOTED = [
    {"benchmark": "Split-MNIST, class-incremental", "method": "EWC", "reported": "about 20",
     "setting": "MLP (2 x 400), several epochs per task", "source": "van de Ven, Tuytelaars & Tolias 2022, "
     "Three types of incremental learning, Nature Machine Intelligence"},
    {"benchmark": "Split-MNIST, class-incremental", "method": "SI", "reported": "about 20",
     "setting": "MLP (2 x 400), several epochs per task", "source": "van de Ven, Tuytelaars & Tolias 2022"},
    {"benchmark": "Split-CIFAR-10, class-incremental", "method": "iCaRL, 500-image buffer", "reported": "47.6",
     "setting": "ResNet-18, 50 epochs per task", "source": "Buzzega et al. 2020, Dark Experience for General "
     "Continual Learning, NeurIPS"},
    {"benchmark": "Split-CIFAR-10, class-incremental", "method": "DER++, 500-image buffer", "reported": "72.7",
     "setting": "ResNet-18, 50 epochs per task", "source": "Buzzega et al. 2020"},
]


def split_tasks(classes: np.ndarray, per_task: int = 2) -> list[np.ndarray]:
    """Consecutive groups of ``per_task`` classes, in sorted order."""
    classes = np.unique(classes)
    return [classes[i:i + per_task] for i in range(0, len(classes), per_task)]


# ----------------------------------------------------------------------------------------------------------------
# Metrics of an accuracy matrix R (T, T); R[i, j] for j > i is not used


def average_accuracy(R: np.ndarray) -> float:
    """Mean accuracy over all tasks after the last one."""
    return float(np.mean(R[-1]))


def backward_transfer(R: np.ndarray) -> float:
    """Mean over the earlier tasks of (final accuracy) - (accuracy right after learning it); negative = forgetting."""
    T = len(R)
    return float(np.mean([R[-1, j] - R[j, j] for j in range(T - 1)]))


def forgetting(R: np.ndarray) -> float:
    """Chaudhry et al.: mean over the earlier tasks of (best accuracy before the last task) - (final accuracy)."""
    T = len(R)
    return float(np.mean([max(R[i, j] for i in range(j, T - 1)) - R[-1, j] for j in range(T - 1)]))


def forgetting_after_learning(R: np.ndarray) -> float:
    """Avalanche's forgetting: mean over the earlier tasks of (accuracy right after learning it) - (final)."""
    return -backward_transfer(R)


# ----------------------------------------------------------------------------------------------------------------
# Learners


def select_shrinkage(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                     grid=SHRINKAGES) -> tuple[float, dict]:
    """The shrinkage of streaming LDA with the best validation accuracy (its statistics do not depend on the
    order of the stream, so one fit serves every value); returns it and every value's accuracy."""
    model = StreamingLDA().fit(X, y)
    scores = {}
    for shrinkage in grid:
        model.set_params(shrinkage=shrinkage)
        scores[shrinkage] = float(np.mean(model.predict(X_val) == y_val))
    return max(scores, key=scores.get), scores


def _learners(name: str, seed: int, n_classes: int, shrinkage: float, pixel_max: float, first_task: int,
              quick: bool = False) -> dict:
    """label -> (learner, input): ``"flat"`` (scaled pixels, (n, D)) or ``"raw"`` (images for a preset).

    The data set's receptive-field and ``-best`` presets with their defaults; on MNIST the CIFAR-10 recipe's
    dictionaries too (``cifar10-best``'s prototype-code member), on the receptive fields' preprocessing. A
    prototype-code warm-up (whitening, then dictionaries) takes at most half of the ``first_task`` images, so that
    the readout learns from every task (the defaults already do on the full tasks); ``quick``: 32 prototypes per
    position (the readout's solve grows with the cube of the codes' length)."""
    rf = f"{name}-rf"
    models = {f"memorynet, {rf} preset (defaults)": preset(rf, random_state=seed, pixel_max=pixel_max),
              f"memorynet, {name}-best preset (defaults)": preset(f"{name}-best", random_state=seed,
                                                                  pixel_max=pixel_max)}
    if name != "cifar10":  # (on CIFAR-10 they are the leading member of its -best preset)
        codes = preset("cifar10-best", random_state=seed, pixel_max=pixel_max, member="codes")
        models["memorynet, prototype codes (cifar10-best recipe)"] = codes.set_params(preprocess__chain=PRESETS[rf][0])
    def short_warmup(params: dict) -> dict:
        if "warmup" not in params:  # not prototype codes
            return {}
        warmup = min(params["warmup"], first_task // 2)
        return {"warmup": warmup, "whiten_images": min(params["whiten_images"], warmup // 2),
                **({"max_neurons": 32} if quick else {})}
    for model in models.values():  # each member of a side-by-side model too
        adjust(model[-1], short_warmup)
    return {
        f"memorynet, paper model ({NEURONS} neurons, defaults)":
            (MemoryNetworkClassifier(NEURONS, random_state=seed), "flat"),
        **{label: (model, "raw") for label, model in models.items()},
        f"streaming LDA (shrinkage {shrinkage:g})": (StreamingLDA(shrinkage), "flat"),
        "nearest class mean": (NearestClassMean(), "flat"),
        f"online k-means per class ({NEURONS // n_classes} prototypes each)":
            (PerClassKMeans(NEURONS // n_classes, random_state=seed), "flat"),
        "MLP fine-tuned (naive)": (ReplayMLP(0, random_state=seed), "flat"),
        "MLP + replay, 200 images": (ReplayMLP(200, random_state=seed), "flat"),
        "MLP + replay, 500 images": (ReplayMLP(500, random_state=seed), "flat"),
    }


def _stream(model, view: str, train: dict, test: dict, order: list[np.ndarray], test_rows: list[np.ndarray],
            y: np.ndarray, y_test: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Learn the tasks in turn (one pass each); R and the seconds spent learning and predicting."""
    T = len(order)
    R = np.full((T, T), np.nan)
    train_seconds = predict_seconds = 0.0
    for i, rows in enumerate(order):
        start = time.perf_counter()
        learn_chunk(model, train[view][rows], y[rows], classes)
        train_seconds += time.perf_counter() - start
        start = time.perf_counter()
        for j in range(i + 1):
            R[i, j] = np.mean(model.predict(test[view][test_rows[j]]) == y_test[test_rows[j]])
        predict_seconds += time.perf_counter() - start
    return R, train_seconds, predict_seconds


def definition(learner) -> str:
    """What a learner is, as a comparable key: every parameter, those of nested estimators under their own names."""
    values = learner.get_params(deep=True)
    return json.dumps({k: repr(v) for k, v in sorted(values.items()) if k != "steps" and not hasattr(v, "get_params")})


def run_continual(data_dir=None, quick: bool = False, progress: bool = True, previous: dict | None = None) -> dict:
    """Split-MNIST and Split-CIFAR-10, every learner, 3 seeds (``quick``: MNIST, one seed, 2000 training and 500
    test images per task). Each seed shuffles the images within each task; the task order is fixed. The rows of
    ``previous`` (an earlier result of the same settings) whose learner has the same definition are kept."""
    names = ("mnist",) if quick else ("mnist", "cifar10")
    seeds = (0,) if quick else (0, 1, 2)
    rows, choices = [], {}
    stored = {(r["dataset"], r["seed"], r["model"], r.get("definition"), r["train_images"]): r
              for r in (previous or {}).get("rows", [])}
    for name in names:
        data = datasets.load(name, data_dir, progress=False)
        flat = {"train": scale_pixels(data.X_train, data.pixel_max).reshape(len(data.y_train), -1),
                "test": scale_pixels(data.X_test, data.pixel_max).reshape(len(data.y_test), -1)}
        train, test = {"flat": flat["train"], "raw": data.X_train}, {"flat": flat["test"], "raw": data.X_test}
        classes, tasks = np.unique(data.y_train), split_tasks(data.y_train)
        fit_rows, val_rows = validation_split_indices(len(data.y_train))
        shrinkage, scores = select_shrinkage(flat["train"][fit_rows], data.y_train[fit_rows],
                                             flat["train"][val_rows], data.y_train[val_rows])
        choices[name] = {"shrinkage": shrinkage, "validation_accuracy": scores}
        for seed in seeds:
            rng = np.random.default_rng(seed)
            order = [rng.permutation(np.flatnonzero(np.isin(data.y_train, t))) for t in tasks]
            test_rows = [np.flatnonzero(np.isin(data.y_test, t)) for t in tasks]
            if quick:
                order, test_rows = [o[:2000] for o in order], [r[:500] for r in test_rows]
            learners = _learners(name, seed, len(classes), shrinkage, data.pixel_max, len(order[0]), quick)
            for label, (model, view) in tqdm(learners.items(), desc=f"continual {name} seed {seed}",
                                             disable=not progress):
                key = (name, seed, label, definition(model), int(sum(len(o) for o in order)))
                if key in stored:
                    rows.append(stored[key])
                    continue
                R, train_s, predict_s = _stream(model, view, train, test, order, test_rows, data.y_train,
                                                data.y_test, classes)
                matrix = [[None if np.isnan(v) else float(v) for v in row] for row in R]  # JSON: null, not NaN
                rows.append({"dataset": name, "seed": seed, "model": label, "definition": key[3], "matrix": matrix,
                             "accuracy_seen": [float(np.mean(R[i, :i + 1])) for i in range(len(R))],
                             "average_accuracy": average_accuracy(R), "backward_transfer": backward_transfer(R),
                             "forgetting": forgetting(R), "forgetting_after_learning": forgetting_after_learning(R),
                             "train_seconds": train_s, "predict_seconds": predict_s,
                             "train_images": key[4]})
    return {"rows": rows, "selection": choices, "quoted": QUOTED}


# ----------------------------------------------------------------------------------------------------------------
# Report


def summary(result: dict) -> list[dict]:
    """One row per (data set, learner): every metric's mean and std over seeds, and the median seconds."""
    return [{"dataset": runs[0]["dataset"], "model": runs[0]["model"], **stats}
            for runs, stats in summarize(result["rows"], lambda r: (r["dataset"], r["model"]),
                                         spread=("average_accuracy", "backward_transfer", "forgetting",
                                                 "forgetting_after_learning"),
                                         medians=("train_seconds", "predict_seconds"))]


def markdown(result: dict) -> str:
    """Tables of the measured metrics per data set, then the quoted results in their own table."""
    out = []
    titles = {"mnist": "Split-MNIST", "cifar10": "Split-CIFAR-10"}
    rows = summary(result)
    for name in dict.fromkeys(r["dataset"] for r in rows):
        out += [f"**{titles.get(name, name)}**, measured (class-incremental, 5 tasks of 2 classes, one pass):", "",
                "| learner | ACC (%) | BWT (points) | forgetting (points) | forgetting after learning (points) | "
                "train s | predict s |", "|---|---:|---:|---:|---:|---:|---:|"]
        for r in (r for r in rows if r["dataset"] == name):
            cells = [f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in (r["average_accuracy"], r["backward_transfer"],
                                                                   r["forgetting"], r["forgetting_after_learning"])]
            out.append(f"| {r['model']} | {' | '.join(cells)} | {r['train_seconds']:.1f} | "
                       f"{r['predict_seconds']:.1f} |")
        choice = result["selection"][name]
        out += ["", f"Mean ± std over {rows[0]['seeds']} seed(s); seconds are medians (learning all five tasks; "
                f"predicting after each). Streaming LDA's shrinkage {choice['shrinkage']:g} was chosen on a "
                f"{VALIDATION_SIZE}-image validation split of the training set.", ""]
    out += ["**Quoted from papers** (not measured here; several epochs per task, other architectures):", "",
            "| benchmark | method | accuracy (%) as reported | setting | source |", "|---|---|---:|---|---|"]
    out += [f"| {q['benchmark']} | {q['method']} | {q['reported']} | {q['setting']} | {q['source']} |"
            for q in result["quoted"]]
    return "\n".join(out) + "\n"
