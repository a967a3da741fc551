"""Where a preset spends its time: one fit and one prediction under cProfile, split into phases.

    python benchmarks/fit_profile.py --data-dir ../shared/data                 # cifar10-best, about 3 minutes
    python benchmarks/fit_profile.py --data-dir ../shared/data --quick         # 2000 images, 32 prototypes
    python benchmarks/fit_profile.py --data-dir ../shared/data --preset cifar10-rf --out /tmp/profile

Phases (cProfile's cumulative seconds of the function that does each), of the prototype codes: the whitening
statistics (``_count_patches``), the dictionaries (``_teach_dictionaries``), the codes (``_features``, training and
test images), the readout's statistics (``StreamingLDA._learn``: the rank-k update of the scatter) and its solve
(``solve_shrunk``); of the receptive fields: the search of each class's nearest neuron at prediction
(``class_distances``). A table lists the phases its preset has, then the functions that took the most time of their
own. The positions run one after another (``n_jobs=1``) so that cProfile, which sees the calling thread only, sees
every call; BLAS still runs on every core. Profiling adds some overhead: the shares, not the seconds, are the point.
Writes ``<out>/fit_profile.json`` and ``.md`` and prints the tables.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

import numpy as np

from memorynet import datasets, preset
from memorynet.experiments.harness import write_report
from memorynet.models.presets import adjust

PHASES = {"whitening statistics": ("prototype_codes.py", "_count_patches"),
          "dictionaries": ("prototype_codes.py", "_teach_dictionaries"),
          "codes": ("prototype_codes.py", "_features"),
          "readout statistics": ("readout.py", "_learn"),
          "readout solve": ("tiled_solve.py", "solve_shrunk"),
          "receptive fields' class distances (prediction)": ("labelled.py", "class_distances")}
TOP = 8  # functions listed by their own time
PROFILED = ("cifar10-best", "mnist-best", "cifar10-rf", "mnist-rf")  # the presets that take n_jobs


def phase_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds of each phase's function (of the functions of that name in its file, the outermost: a
    subclass's ``_learn`` includes the ``super()._learn`` it calls)."""
    seconds = dict.fromkeys(PHASES, 0.0)
    for (path, _, function), (_, _, _, cumulative, _) in stats.stats.items():
        for phase, (file, name) in PHASES.items():
            if path.endswith(file) and function == name:
                seconds[phase] = max(seconds[phase], cumulative)
    return seconds


def top_functions(stats: pstats.Stats, n: int = TOP) -> list[dict]:
    """The ``n`` functions with the most time of their own (not counting the functions they call)."""
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:n]
    return [{"function": f"{Path(path).name}:{line}({function})", "calls": int(calls), "own_seconds": own,
             "cumulative_seconds": cumulative}
            for (path, line, function), (_, calls, own, cumulative, _) in rows]


def run(data_dir: str, name: str, quick: bool) -> dict:
    data = datasets.load(name.split("-")[0], data_dir, progress=False)
    X, y, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
    overrides = {"n_jobs": 1, **({"max_neurons": 32} if quick else {})}
    if quick:
        X, y, X_test, y_test = X[:2000], y[:2000], X_test[:500], y_test[:500]
    model = preset(name, random_state=0, n_jobs=1)
    adjust(model[-1], lambda params: {"max_neurons": 32} if quick else {})  # each member's, for a side-by-side
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    model.fit(X, y)
    fitted = time.perf_counter()
    predicted = model.predict(X_test)
    profiler.disable()
    end = time.perf_counter()
    stats = pstats.Stats(profiler)
    return {"preset": name, "quick": quick, "n_train": len(X), "n_test": len(X_test), "overrides": overrides,
            "fit_seconds": fitted - start, "predict_seconds": end - fitted, "phases": phase_seconds(stats),
            "top": top_functions(stats),
            "accuracy": float(np.mean(predicted == y_test))}


def markdown(result: dict) -> str:
    total = result["fit_seconds"] + result["predict_seconds"]
    lines = [f"{result['preset']}: fit {result['fit_seconds']:.1f} s, predict {result['predict_seconds']:.1f} s "
             f"({result['n_train']} / {result['n_test']} images, profiled)", ""]
    if any(result["phases"].values()):
        lines += ["| phase | seconds | share of fit + predict |", "|---|---:|---:|"]
        lines += [f"| {phase} | {seconds:.1f} | {100 * seconds / total:.0f} % |"
                  for phase, seconds in result["phases"].items() if seconds]  # the preset's own phases
        rest = total - sum(result["phases"].values())
        lines += [f"| everything else | {rest:.1f} | {100 * rest / total:.0f} % |", ""]
    lines += ["| function (most time of its own) | calls | own seconds | share of fit + predict |",
              "|---|---:|---:|---:|"]
    lines += [f"| `{row['function']}` | {row['calls']} | {row['own_seconds']:.1f} | "
              f"{100 * row['own_seconds'] / total:.0f} % |" for row in result["top"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--preset", default="cifar10-best", choices=PROFILED)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    result = run(args.data_dir, args.preset, args.quick)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    write_report(args.out, "fit_profile", result, markdown(result))


if __name__ == "__main__":
    main()
