"""Reference implementations the tests compare the library with: the SPEC's rule as a plain loop, and the model
file as memorynet 0.1 wrote it (format version 1)."""

import json

import numpy as np

from memorynet.io.model_files import _digest


def reference_fit(X, y, max_neurons, threshold=None, batch_size=1, classes=None):
    """The SPEC's rule written as plainly as possible: one input at a time inside each batch, every search
    against the memory as it stood at the start of the batch, one reserved slot per unrepresented class."""
    classes = sorted(set(y)) if classes is None else classes
    mem, lab, cnt = [], [], []
    for s in range(0, len(X), batch_size):
        start_mem, start_lab = [m.copy() for m in mem], list(lab)
        born_in_batch = {}
        for x, c in zip(X[s:s + batch_size], y[s:s + batch_size]):
            same = [i for i, label in enumerate(start_lab) if label == c]
            dists = [float(((x.astype(np.float64) - start_mem[i]) ** 2).sum()) for i in same]
            nearest = same[int(np.argmin(dists))] if same else None
            unrepresented = [k for k in classes if k not in start_lab and k not in born_in_batch]
            free = max_neurons - len(mem) - len([k for k in unrepresented if k != c])
            wants = threshold is None or not same or min(dists) > threshold
            if wants and free > 0:
                mem.append(x.astype(np.float64).copy())
                lab.append(c)
                cnt.append(1)
                born_in_batch.setdefault(c, []).append((len(mem) - 1, x.astype(np.float64)))
                continue
            if nearest is None:  # label unseen before this batch: nearest neuron born in this batch
                born = born_in_batch[c]
                nearest = born[int(np.argmin([((x - x_born) ** 2).sum() for _, x_born in born]))][0]
            mem[nearest] = (cnt[nearest] * mem[nearest] + x) / (cnt[nearest] + 1)
            cnt[nearest] += 1
    return np.array(mem), np.array(lab), np.array(cnt)


def write_version_1(model, path):
    """The model in format version 1 (one bank, checksum over the arrays only), as memorynet 0.1 wrote it."""
    arrays = {"memories": model.banks_[0].memories.copy(), "labels": model.banks_[0].classes.astype(np.int64),
              "counters": model.banks_[0].counters.copy(), "classes": model.classes_}
    header = {"format": "memorynet", "format_version": 1, "library_version": "0.1.0",
              "params": {k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()},
              "image_shape": list(model.image_shape_), "n_neurons": len(arrays["labels"]),
              "n_samples_seen": model.n_samples_seen_, "metadata": {"preprocessing": "scale"},
              "sha256": _digest(arrays)}
    with open(path, "wb") as fh:
        np.savez(fh, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    return path
