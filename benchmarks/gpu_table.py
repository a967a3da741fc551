"""Fit + predict of the paper model, the receptive-field presets and the frontier's presets with the torch engine
(GPU) against NumPy (CPU).

    bash benchmarks/gpu.sh --data-dir ../shared/data          # on a machine with a CUDA GPU and torch installed
    python benchmarks/gpu_table.py --data-dir ../shared/data --smoke   # seconds, tiny sizes, torch on the CPU
    python benchmarks/gpu_table.py --data-dir ../shared/data --only best   # the rows whose model names "best"

Both backends run in this one process on the same machine, one after the other per row: the CPU column is that
machine's CPU (all its cores), the GPU column the same model with ``search_backend="torch"`` (every member of a
side-by-side model): its learning passes run on the device (:mod:`memorynet.engine.device`), and so do the prototype
codes' readout statistics and solve (:mod:`memorynet.models.on_device`). The device is warmed up before the
first timing. Prints a Markdown table naming the card and the CPU, and writes ``<out>/gpu.json`` after every row
(``"complete": false`` until the last; a run cut short keeps what it measured).
Every row says whether the GPU's predictions equal the CPU's: float32 products on the two devices round
differently, so a near-tie can pick another neuron during training and the two models can drift apart by a few
predictions; the accuracies of both are recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from memorynet import MemoryNetworkClassifier, datasets, preset, scale_pixels
from memorynet.models.presets import adjust

CASES = [("mnist", "paper, 10000 neurons", None, 10000), ("mnist", "paper, 60000 neurons", None, 60000),
         ("cifar10", "paper, 10000 neurons", None, 10000), ("cifar10", "paper, 50000 neurons", None, 50000),
         ("mnist", "mnist-rf preset", "mnist-rf", None), ("cifar10", "cifar10-rf preset", "cifar10-rf", None),
         ("mnist", "mnist-best preset", "mnist-best", None), ("cifar10", "cifar10-best preset", "cifar10-best", None)]
SMOKE_CASES = [("mnist", "paper, 300 neurons", None, 300), ("mnist", "mnist-rf preset, 500 neurons", "mnist-rf", 500)]


# where a results file's GPU fits took their learning decisions (files written before the device passes say "host")
LEARNING = {"host": "training's passes decided on the host, the torch searcher's searches on the device",
            "device": "training's passes on the device (memorynet.engine.device), the codes' readout there too"}


def _model(name: str | None, neurons: int | None, backend: str):
    """(the model on ``backend``, whether it takes scaled pixels); ``neurons``: the paper model's memory, or a
    preset's ``max_neurons`` when given."""
    if name is None:
        return MemoryNetworkClassifier(neurons, random_state=0, search_backend=backend), True
    pipeline = preset(name, random_state=0)
    adjust(pipeline[-1], lambda params: {"search_backend": backend, **({} if neurons is None else
                                                                       {"max_neurons": neurons})})
    return pipeline, False


def _revision() -> str:
    """The checkout's commit (short), or "unknown" outside a git checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu() -> str:
    """The CPU's model name and core count (from /proc/cpuinfo where there is one)."""
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        name = names[0] if names else name
    return f"{name}, {os.cpu_count()} logical cores"


def _warm_up(torch, device: str) -> None:
    """The device's first context, kernels and allocator set up before anything is timed."""
    a = torch.ones((512, 512), device=device)
    (a @ a).sum().item()


def _time_case(name: str | None, neurons: int | None, backend: str, ds, smoke: bool):
    model, scaled = _model(name, neurons, backend)
    X, y, X_test = ds.X_train, ds.y_train, ds.X_test
    if smoke:
        X, y, X_test = X[:2000], y[:2000], X_test[:500]
    if scaled:
        X, X_test = scale_pixels(X), scale_pixels(X_test)
    start = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(X_test)
    return fit_s, time.perf_counter() - start, predicted


def markdown(results: dict) -> str:
    """The table of a ``gpu.json``: one row per model, both devices' seconds and accuracies."""
    learning = LEARNING[results.get("learning", "host")]
    partial = "" if results.get("complete", True) else " A partial run: only the rows below were measured."
    lines = [f"GPU: **{results['device']}**; CPU: **{results['cpu']}**; torch {results['torch']}; code at commit "
             f"`{results.get('revision', 'unknown')}`; {learning}.{partial}", "",
             "| data | model | CPU fit s | GPU fit s | CPU predict s | GPU predict s | fit speed-up | "
             "predict speed-up | CPU accuracy | GPU accuracy | same predictions |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["rows"]:
        lines.append(f"| {r['dataset']} | {r['model']} | {r['cpu_fit_s']:.2f} | {r['gpu_fit_s']:.2f} | "
                     f"{r['cpu_predict_s']:.2f} | {r['gpu_predict_s']:.2f} | "
                     f"{r['cpu_fit_s'] / r['gpu_fit_s']:.1f}x | {r['cpu_predict_s'] / r['gpu_predict_s']:.1f}x | "
                     f"{100 * r['cpu_accuracy']:.2f} % | {100 * r['gpu_accuracy']:.2f} % | "
                     f"{100 * r['same_predictions']:.2f} % |")
    return "\n".join(lines) + "\n"


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for a test of the script itself")
    parser.add_argument("--only", action="append", help="rows whose model names this (repeatable; default: all)")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if cuda else "no CUDA device (torch on the CPU)"
    _warm_up(torch, "cuda" if cuda else "cpu")
    results = {"device": device, "cpu": _cpu(), "torch": torch.__version__, "revision": _revision(),
               "learning": "device", "smoke": args.smoke, "complete": False, "rows": []}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for dataset, label, name, neurons in cases(args.smoke, args.only):
        ds = datasets.load(dataset, args.data_dir, progress=False)
        figures = {backend: _time_case(name, neurons, backend, ds, args.smoke)
                   for backend in ("numpy", "torch")}
        y_test = ds.y_test[:len(figures["numpy"][2])]
        results["rows"].append({"dataset": dataset, "model": label, "cpu_fit_s": figures["numpy"][0],
                                "cpu_predict_s": figures["numpy"][1], "gpu_fit_s": figures["torch"][0],
                                "gpu_predict_s": figures["torch"][1],
                                "same_predictions": float(np.mean(figures["numpy"][2] == figures["torch"][2])),
                                "cpu_accuracy": float(np.mean(figures["numpy"][2] == y_test)),
                                "gpu_accuracy": float(np.mean(figures["torch"][2] == y_test))})
        print(results["rows"][-1], flush=True)
        _save(out / "gpu.json", results)  # row by row: a run cut short keeps what it measured
    results["complete"] = True
    _save(out / "gpu.json", results)
    print(markdown(results))


def cases(smoke: bool, only: list[str] | None) -> list[tuple]:
    """The rows to measure: the smoke's or the full table's, those whose model names one of ``only`` if given."""
    chosen = [case for case in (SMOKE_CASES if smoke else CASES) if not only or any(o in case[1] for o in only)]
    if not chosen:
        raise SystemExit(f"no row's model names any of {only}; the rows: {[case[1] for case in CASES]}")
    return chosen


def _save(path: Path, results: dict) -> None:
    """``results`` as JSON at ``path``, through a temporary file and a rename (never half a file)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(results, indent=1))
    os.replace(temporary, path)


if __name__ == "__main__":
    main()
