"""Time two source trees of memorynet side by side: the check that a refactor did not slow anything down.

    git worktree add /tmp/before <commit>
    python benchmarks/compare_revisions.py --before /tmp/before/src --after src --data-dir ../shared/data

Each measurement runs in a fresh process with ``PYTHONPATH`` pointing at one tree; the two trees alternate, and
every figure is the median over ``--repeats`` alternations. Systems: the paper model at 1000 / 10000 / 60000
neurons on MNIST (fit and predict), and the ``mnist-rf``, ``mnist-best`` and ``cifar10-best`` presets (fit and
predict).
Also checks that both trees predict identically (where they do not, the share of the test images whose predictions
agree, with both accuracies); the second prediction of the same images (a readout solved once
is not solved again) and the process's peak memory (RSS) are reported beside. Writes a Markdown table to stdout and
``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

SYSTEMS = [("paper 1000", "mnist", "paper", 1000), ("paper 10000", "mnist", "paper", 10000),
           ("paper 60000", "mnist", "paper", 60000), ("mnist-rf", "mnist", "mnist-rf", None),
           ("mnist-best", "mnist", "mnist-best", None),
           ("cifar10-best", "cifar10", "cifar10-best", None)]

_CHILD = r"""
import hashlib, json, resource, sys, time
import numpy as np
from memorynet import datasets, MemoryNetworkClassifier, scale_pixels
try:
    from memorynet import preset
except ImportError:  # a tree from before the wings
    from memorynet.presets import preset
dataset, kind, size, data_dir = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
ds = datasets.load(dataset, data_dir, progress=False)
if kind == "paper":
    model = MemoryNetworkClassifier(int(size), random_state=0)
    X, X_test = scale_pixels(ds.X_train, ds.pixel_max), scale_pixels(ds.X_test, ds.pixel_max)
else:
    model, X, X_test = preset(kind, random_state=0), ds.X_train, ds.X_test
start = time.perf_counter(); model.fit(X, ds.y_train); fit_s = time.perf_counter() - start
start = time.perf_counter(); predicted = model.predict(X_test); predict_s = time.perf_counter() - start
start = time.perf_counter(); model.predict(X_test); again_s = time.perf_counter() - start
print(json.dumps({"fit_s": fit_s, "predict_s": predict_s, "predict_again_s": again_s,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "accuracy": float((predicted == ds.y_test).mean()),
                  "predictions": hashlib.sha256(np.asarray(predicted).tobytes()).hexdigest(),
                  "predicted": np.asarray(predicted).tolist()}))
"""


def _measure(src: str, dataset: str, kind: str, size, data_dir: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    out = subprocess.run([sys.executable, "-c", _CHILD, dataset, kind, str(size), data_dir], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="src folder of the older tree")
    parser.add_argument("--after", required=True, help="src folder of the newer tree")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--repeats", type=int, default=3, help="alternations per system (default: 3)")
    parser.add_argument("--only", action="append", help="system names to run (default: all)")
    parser.add_argument("--json", help="write the raw figures here")
    args = parser.parse_args()
    rows, raw = [], {}
    for name, dataset, kind, size in SYSTEMS:
        if args.only and name not in args.only:
            continue
        runs = {"before": [], "after": []}
        for _ in range(args.repeats):
            for tree in ("before", "after"):
                runs[tree].append(_measure(getattr(args, tree), dataset, kind, size, args.data_dir))
                print(f"{name} {tree}: {runs[tree][-1]['fit_s']:.2f} s fit, {runs[tree][-1]['predict_s']:.2f} s "
                      "predict", file=sys.stderr)
        raw[name] = runs
        keys = ("fit_s", "predict_s", "predict_again_s", "peak_mib")
        med = {tree: {k: float(np.median([r[k] for r in runs[tree]])) for k in keys} for tree in runs}
        same = len({r["predictions"] for tree in runs for r in runs[tree]}) == 1
        shared = np.mean(np.equal(runs["before"][0]["predicted"], runs["after"][0]["predicted"]))
        cells = [f"{med['before'][k]:.2f} | {med['after'][k]:.2f} | {med['after'][k] / med['before'][k]:.2f}"
                 for k in ("fit_s", "predict_s", "predict_again_s")]
        peaks = f"{med['before']['peak_mib']:.0f} | {med['after']['peak_mib']:.0f}"
        rows.append(f"| {name} | {' | '.join(cells)} | {peaks} | {runs['before'][0]['accuracy']:.4f} | "
                    f"{runs['after'][0]['accuracy']:.4f} | {'yes' if same else f'NO ({shared:.2%} shared)'} |")
    print("| system | fit s before | fit s after | ratio | predict s before | predict s after | ratio | "
          "predict again s before | after | ratio | peak MiB before | after | accuracy before | after | "
          "identical predictions |")
    print("|---|" + "---:|" * 13 + "---|")
    print("\n".join(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(raw, fh, indent=2)


if __name__ == "__main__":
    main()
