"""Training time of the paper model with each search engine, side by side in one process.

    python benchmarks/backend_training.py --data-dir ../shared/data [--max-neurons 10000] [--repeats 5]

Fits ``MemoryNetworkClassifier(max_neurons)`` on the MNIST training set with every installed ``search_backend``,
alternating engines, and prints the median fit time of each, its ratio to NumPy's, and whether the memories
learnt agree (they must, up to float32 rounding).
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

from memorynet import MemoryNetworkClassifier, datasets, scale_pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--max-neurons", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ds = datasets.load("mnist", args.data_dir, progress=False)
    X = scale_pixels(ds.X_train, ds.pixel_max)
    engines = ["numpy"] + [name for name in ("faiss", "torch") if importlib.util.find_spec(name)]
    times = {name: [] for name in engines}
    memories = {}
    for _ in range(args.repeats):
        for name in engines:
            model = MemoryNetworkClassifier(args.max_neurons, random_state=0, search_backend=name)
            start = time.perf_counter()
            model.fit(X, ds.y_train)
            times[name].append(time.perf_counter() - start)
            memories[name] = model.memories_
    base = float(np.median(times["numpy"]))
    print(f"| search_backend | fit s (median of {args.repeats}) | ratio to numpy | max memory difference |")
    print("|---|---:|---:|---:|")
    for name in engines:
        median = float(np.median(times[name]))
        diff = float(np.abs(memories[name] - memories["numpy"]).max())
        print(f"| {name} | {median:.2f} | {median / base:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
