"""Figures: accuracy against the number of neurons, with error bars and the baselines."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from ..io.atomic import atomic_write  # noqa: E402
from ..io.inputs import display_image  # noqa: E402

__all__ = ["plot_sweep", "plot_fewshot", "plot_continual", "plot_energy", "plot_frontier",
           "memory_montage", "class_images_figure", "confusion_figure", "nearest_neurons_figure", "explain_figure"]


def _save(fig, path) -> Path:
    fig.tight_layout()
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
    return Path(path)


def plot_sweep(exp, rows: list[dict], path: str | Path) -> Path:
    """Accuracy (mean ± std over seeds) against ``max_neurons`` on a log axis, one line per model label,
    the 1-NN and nearest-class-mean baselines as horizontal lines."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    models = [r for r in rows if r["config"]["model"] == "memorynet"]
    for label in dict.fromkeys(r["config"]["label"] for r in models):
        line = sorted((r for r in models if r["config"]["label"] == label), key=lambda r: r["config"]["max_neurons"])
        ax.errorbar([r["config"]["max_neurons"] for r in line], [100 * r["mean"] for r in line],
                    yerr=[100 * r["std"] for r in line], marker="o", capsize=3, label=label)
    styles = {"1-nn": ("k", "--"), "ncm": ("grey", ":")}
    for r in rows:
        model = r["config"]["model"]
        if model in styles:
            colour, dash = styles[model]
            ax.axhline(100 * r["mean"], color=colour, linestyle=dash, label=f"{r['config']['label']}")
    ax.set_xscale("log")
    ax.set_xlabel("max_neurons")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(exp.title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_fewshot(result: dict, path) -> Path:
    """Accuracy against examples per class, one panel per data set, one line per model (mean ± std)."""
    names = list(dict.fromkeys(r["dataset"] for r in result["rows"]))
    fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for model in dict.fromkeys(r["model"] for r in result["rows"]):
            runs = [r for r in result["rows"] if r["dataset"] == name and r["model"] == model]
            shots = sorted({r["shots"] for r in runs})
            acc = [[100 * r["accuracy"] for r in runs if r["shots"] == k] for k in shots]
            ax.errorbar(shots, [np.mean(a) for a in acc], yerr=[np.std(a) for a in acc], marker="o", capsize=3,
                        label=model)
        ax.set_xscale("log")
        ax.set(xlabel="training examples per class", ylabel="test accuracy (%)", title=f"few-shot: {name}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_frontier(rows: list[dict], path) -> Path:
    """Per data set: test accuracy (mean ± std over seeds) against seconds to fit (log axis), every row of
    ``memorynet reproduce --only frontier`` (:func:`memorynet.experiments.frontier.summary`); the marker says its role
    (star: headline, square: ablation, circle: peer) and the legend below names each row."""
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(7.5 * len(names), 6.5), squeeze=False)
    markers = {"headline": "*", "ablation": "s", "peer": "o"}
    for ax, name in zip(axes[0], names):
        for i, r in enumerate(r for r in rows if r["dataset"] == name):
            label = r["label"] if r["role"] in r["label"] else f"{r['label']} ({r['role']})"
            ax.errorbar(r["fit_seconds"], 100 * r["mean"], yerr=100 * r["std"], marker=markers[r["role"]],
                        color=plt.cm.tab10(i), markersize=13 if r["role"] == "headline" else 8, capsize=3,
                        linestyle="none", label=label)
        ax.set(xscale="log", xlabel="seconds to fit (one pass, this machine)", ylabel="test accuracy (%)",
               title=f"{name}: accuracy against training cost")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)
    return _save(fig, path)


def plot_continual(result: dict, path) -> Path:
    """Per data set: accuracy on the classes seen so far after each task (left), and final accuracy against the
    seconds spent learning (right, log axis), for every learner."""
    names = list(dict.fromkeys(r["dataset"] for r in result["rows"]))
    fig, axes = plt.subplots(len(names), 2, figsize=(13, 4.6 * len(names)), squeeze=False)
    for (curves, cost), name in zip(axes, names):
        for model in dict.fromkeys(r["model"] for r in result["rows"] if r["dataset"] == name):
            runs = [r for r in result["rows"] if (r["dataset"], r["model"]) == (name, model)]
            seen = 100 * np.array([r["accuracy_seen"] for r in runs])
            line = curves.errorbar(np.arange(1, seen.shape[1] + 1), seen.mean(0), yerr=seen.std(0), marker="o",
                                   capsize=3, label=model)
            final = 100 * np.array([r["average_accuracy"] for r in runs])
            seconds = np.median([r["train_seconds"] for r in runs])
            cost.errorbar(seconds, final.mean(), yerr=final.std(), marker="o", capsize=3, color=line[0].get_color())
            cost.annotate(model, (seconds, final.mean()), fontsize=7, xytext=(4, 3), textcoords="offset points")
        curves.set(xlabel="tasks learnt (2 classes each)", ylabel="accuracy on classes seen (%)",
                   title=f"{name}: class-incremental, one pass", xticks=range(1, 6))
        cost.set(xscale="log", xlabel="seconds to learn the 5 tasks", ylabel="final accuracy, all classes (%)",
                 title=f"{name}: accuracy against training cost")
        cost.xaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels overlap
        for ax in (curves, cost):
            ax.grid(True, alpha=0.3)
        curves.legend(fontsize=7)
    return _save(fig, path)


def plot_energy(result: dict, path) -> Path:
    """Test accuracy against total training multiply-adds (log axis)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in result["rows"]:
        marker = "o" if r["model"] == "memorynet" else "s"
        ax.scatter(r["total_train_macs"], 100 * r["accuracy"], marker=marker, s=50)
        label = f"memorynet {r['max_neurons']}" if r["max_neurons"] else f"{r['model']}, {r['epochs']} epochs"
        ax.annotate(label, (r["total_train_macs"], 100 * r["accuracy"]), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set(xlabel="multiply-adds to train (MNIST)", ylabel="test accuracy (%)", title="operations to reach an accuracy")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def _tile_grid(rows: list[list[np.ndarray]], columns: int, gap: int) -> np.ndarray:
    """Images (H, W) or (H, W, 3) in [0, 1] laid out in ``len(rows)`` rows of ``columns`` cells on white, ``gap``
    pixels apart (above each cell too, for its caption): one RGB image to draw at once."""
    h, w = next((tile.shape[:2] for row in rows for tile in row), (1, 1))
    canvas = np.ones((len(rows) * (h + gap), columns * (w + gap), 3))
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            top, left = r * (h + gap) + gap, c * (w + gap)
            canvas[top:top + h, left:left + w] = tile[..., None] if tile.ndim == 2 else tile
    return canvas


def memory_montage(view: dict, classes, path, class_names=None, per_class: int = 12) -> Path:
    """The neuron memories of one bank (``view`` from ``model.memory_view()``) drawn as images, most-used first,
    captioned with their counters: one row per class for labelled memories, rows of ``per_class`` for unlabelled
    ones (a dictionary of prototypes). One image of all the tiles: quick however many neurons it shows."""
    labels, counters, memories = view["labels"], view["counters"], view["memories"]
    order = np.argsort(-counters, kind="stable")
    if labels is None:
        groups = [(None, order[i:i + per_class]) for i in range(0, min(len(order), 8 * per_class), per_class)]
    else:
        groups = [(label, order[labels[order] == label][:per_class]) for label in classes]
    groups = groups or [(None, order[:0])]
    h, w = memories.shape[-2:]
    gap = max(2, h // 3)
    fig, ax = plt.subplots(figsize=(per_class * 0.9, len(groups) * 1.05))
    ax.imshow(_tile_grid([[display_image(memories[i]) for i in rows] for _, rows in groups], per_class, gap),
              interpolation="nearest")
    ax.axis("off")
    for r, (label, rows) in enumerate(groups):
        for c, i in enumerate(rows):
            ax.text(c * (w + gap) + w / 2, r * (h + gap) + gap - 0.5, f"c={counters[i]}", ha="center",
                    va="bottom", fontsize=6)
        if label is not None:
            name = class_names[int(np.searchsorted(classes, label))] if class_names is not None else label
            ax.text(-gap, r * (h + gap) + gap + h / 2, str(name), ha="right", va="center", fontsize=8)
    what = "most-used per class" if labels is not None else "unlabelled prototypes, most-used first"
    fig.suptitle(f"{len(counters)} neurons of bank {view['position']} (region at {tuple(view['corner'])}), {what} "
                 "(c = inputs absorbed)", fontsize=9)
    return _save(fig, path)


def class_images_figure(images: np.ndarray, classes, path, class_names=None) -> Path:
    """What each class looks like to the model (``model.class_images()``, (n_classes, C, H, W)), one panel each."""
    fig, axes = plt.subplots(1, len(classes), figsize=(len(classes) * 1.1, 1.5), squeeze=False)
    for ax, image, label, i in zip(axes[0], images, classes, range(len(classes))):
        ax.axis("off")
        if np.isfinite(image).all():
            ax.imshow(display_image(image), cmap="gray")
        ax.set_title(str(class_names[i] if class_names is not None else label), fontsize=8)
    fig.suptitle("each class as the model holds it (memories weighted by their share of the class)", fontsize=9)
    return _save(fig, path)


def confusion_figure(y_true, y_pred, labels, path, class_names=None) -> Path:
    """Confusion matrix on a test set (counts, rows = true class)."""
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(6, 5.5))
    names = class_names if class_names is not None else labels
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=labels, display_labels=names, ax=ax,
                                            colorbar=False, xticks_rotation=45)
    ax.set_title(f"accuracy {100 * np.mean(np.asarray(y_true) == np.asarray(y_pred)):.2f} %")
    return _save(fig, path)


def nearest_neurons_figure(view: dict, images: np.ndarray, nearest: tuple[np.ndarray, np.ndarray], path) -> Path:
    """For a few (preprocessed) images (n, C, H, W), the region one bank sees (``view`` from
    ``model.memory_view(position)``) and that bank's nearest neurons (``model.nearest_neurons(images, k,
    position)``: distances and rows, each (n, k)) with their labels, if any, and distances."""
    (r, c), (_, h, w) = view["corner"], view["memories"].shape[1:]
    regions = images[:, :, r:r + h, c:c + w]
    distances, idx = nearest
    k = idx.shape[1]
    fig, axes = plt.subplots(len(images), k + 1, figsize=((k + 1) * 1.1, len(images) * 1.2), squeeze=False)
    for i, region in enumerate(regions):
        axes[i][0].imshow(display_image(region), cmap="gray")
        axes[i][0].set_title("input", fontsize=7)
        for j in range(k):
            axes[i][j + 1].imshow(display_image(view["memories"][idx[i, j]]), cmap="gray")
            label = "" if view["labels"] is None else f"{view['labels'][idx[i, j]]} "
            axes[i][j + 1].set_title(f"{label}d={distances[i, j]:.1f}", fontsize=6)
        for ax in axes[i]:
            ax.axis("off")
    return _save(fig, path)


def explain_figure(path) -> Path:
    """The Memory Network in one figure, drawn from a real model (30 neurons learnt from scikit-learn's digits): the
    bank, the same-label search of one training input, and the running-mean update of the neuron it reaches."""
    from sklearn.datasets import load_digits

    from ..models.memory_network import MemoryNetworkClassifier

    X, y = load_digits(return_X_y=True)
    X = (X / 16).reshape(-1, 1, 8, 8).astype(np.float32)
    model = MemoryNetworkClassifier(30, class_budget="balanced", random_state=0).fit(X[:1000], y[:1000])
    x, label = X[1500], y[1500]
    own = np.flatnonzero(model.labels_ == label)
    distances = ((model.memories_[own] - x) ** 2).sum(axis=(1, 2, 3))
    winner = own[np.argmin(distances)]
    before, count = model.memories_[winner].copy(), int(model.counters_[winner])
    after = (count * before + x) / (count + 1)

    fig = plt.figure(figsize=(12, 4.4))
    grid = fig.add_gridspec(3, 17, wspace=0.25, hspace=0.45)
    order = np.argsort(model.labels_, kind="stable")
    for i, row in enumerate(order):  # the bank: 3 neurons per class, with label and counter
        ax = fig.add_subplot(grid[i % 3, i // 3])
        ax.imshow(display_image(model.memories_[row]), cmap="gray")
        chosen = row in own
        ax.set_title(f"{model.labels_[row]} · {model.counters_[row]}", fontsize=7,
                     color="tab:red" if row == winner else ("black" if chosen else "0.6"))
        for spine in ax.spines.values():
            spine.set(edgecolor="tab:red" if row == winner else ("tab:blue" if chosen else "0.8"),
                      linewidth=2.5 if chosen else 0.8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.text(0.30, 0.97, "the bank: each neuron holds a memory r, a label and a counter c (label · c)",
             ha="center", fontsize=9)
    panels = [(x, f"input x, label {label}\ncompared only with\nthe {label}s (blue)"),
              (before, f"nearest {label}: r\n(c = {count}, red)"),
              (after, f"r ← (c r + x) / (c + 1)\n(c = {count + 1})")]
    for j, (image, title) in enumerate(panels):
        ax = fig.add_subplot(grid[0:2, 11 + 2 * j:13 + 2 * j])
        ax.imshow(display_image(image), cmap="gray")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.text(0.79, 0.12, "one pass: while there is room, x becomes a new neuron;\nonce the memory is full, its "
             "nearest same-label neuron\nmoves to the running mean (nothing else changes)", ha="center", fontsize=8)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
    return Path(path)
