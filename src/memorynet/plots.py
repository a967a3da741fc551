"""Figures: accuracy against the number of neurons, with error bars and the baselines."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

from ._atomic import atomic_write  # noqa: E402

__all__ = ["plot_sweep"]


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
    fig.tight_layout()
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=120))
    plt.close(fig)
    return Path(path)
