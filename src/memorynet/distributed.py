"""Training and prediction on a Dask cluster, with memories merged by the learning rule itself.

- :func:`fit` (data-parallel): the stream is cut into shards; each shard is learnt into its own model by the
  one-pass rule on a worker; the shard models are merged pairwise, in a tree, on the workers. The merge *is* the
  learning rule: every neuron of the second model enters the first as its counter's worth of identical inputs at
  its latent representation (growth while there is room, otherwise a counter-weighted running mean into the
  nearest same-label neuron), so merging shards of one image each is exactly the paper's rule.
- :func:`fit_positions` (model-parallel): the positions of a receptive-field model are independent; each worker
  learns the banks of some positions.
- :func:`predict`, :func:`predict_proba`, :func:`score`: Dask arrays in, Dask arrays out; the fitted model is sent
  to every worker once (scattered), not with every task.

Every task is a pure function of its inputs (shards are cut deterministically, each shard model is learnt in the
stream's order), so Dask may rerun any of them after a worker dies and the model comes out identical. The shards
travel inside the task graph (not scattered ahead), so the scheduler can resend a lost worker's shard; Dask warns
about the graph's size, which is the data's size. Without a
``client`` the work runs in this process, one task after another (the same tasks, the same model).
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from .bank import NeuronBank
from .model import MemoryNetworkClassifier
from .receptive_fields import LocalReceptiveFieldClassifier

__all__ = ["merge", "fit", "fit_positions", "predict", "predict_proba", "score", "connect"]


def _dask():
    try:
        import dask
        import dask.array
        import distributed
    except ImportError as exc:
        raise ImportError("memorynet.distributed needs Dask: pip install 'memorynet[dask]'") from exc
    return dask, dask.array, distributed


@contextmanager
def connect(scheduler: str | None = None, n_workers: int = 2, timeout: str = "10s", **cluster_options):
    """A ``distributed.Client`` bound to ``scheduler`` (``tcp://host:port``, given up after ``timeout``), or to a
    new ``LocalCluster`` of ``n_workers`` single-threaded worker processes on 127.0.0.1, shut down on exit."""
    _, _, distributed = _dask()
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=timeout)
        except OSError as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it with "
                          "'dask scheduler' or leave --scheduler out for a local cluster") from exc
        with client:
            yield client
        return
    options = {"n_workers": n_workers, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
               "dashboard_address": None, **cluster_options}
    with distributed.LocalCluster(**options) as cluster, distributed.Client(cluster) as client:
        yield client


def merge(first, second):
    """A new fitted model: ``second``'s neurons learnt into a copy of ``first`` by the one-pass rule (a neuron of
    counter c enters as c identical inputs), bank by bank. Both must be fitted on the same classes and images."""
    if type(first) is not type(second) or first.get_params() != second.get_params():
        raise ValueError("only models of the same class and parameters can be merged")
    if not np.array_equal(first.classes_, second.classes_) or first.image_shape_ != second.image_shape_:
        raise ValueError("only models fitted on the same classes and image shape can be merged")
    merged = copy.deepcopy(first)
    rule = merged._rule()
    for bank, searcher, other in zip(merged.banks_, merged._searchers(), second.banks_):
        rule.learn(bank, searcher, other.memories, other.classes, merged.batch_size, weights=other.counters)
    merged.n_samples_seen_ += second.n_samples_seen_
    return merged


def _learn_shard(template, X, y, classes, shard_neurons: int | None = None):
    """A model learnt in one pass over one shard, in the shard's order, with ``shard_neurons`` per bank (default:
    the template's budget); returned with the template's parameters, so that it merges with the others."""
    model = clone(template).set_params(shuffle=False, verbose=False)
    if shard_neurons is not None:
        model.set_params(max_neurons=shard_neurons)
    model.partial_fit(X, y, classes=classes)
    for bank in model.banks_:
        bank.raise_capacity(template.max_neurons)
    return model.set_params(max_neurons=template.max_neurons, shuffle=template.shuffle, verbose=template.verbose)


def _run(graph, client):
    dask, _, _ = _dask()
    if client is None:
        return dask.compute(graph, scheduler="synchronous")[0]
    return client.gather(client.compute(graph))


def _shards(X, y, n_shards: int, order: np.ndarray | None):
    """Cut the (ordered) stream into ``n_shards`` contiguous, near-equal shards; Dask arrays keep their chunks."""
    _, da, _ = _dask()
    if isinstance(X, da.Array):
        return list(zip(X.to_delayed().ravel(), np.split(np.asarray(y), np.cumsum(X.chunks[0])[:-1])))
    rows = np.arange(len(y)) if order is None else order
    return [(X[part], np.asarray(y)[part]) for part in np.array_split(rows, n_shards) if len(part)]


def fit(estimator, X, y, *, client=None, n_shards: int = 4, classes=None, tree: bool = True,
        shard_budget: str = "full"):
    """Fit a copy of ``estimator`` (``MemoryNetworkClassifier`` or ``LocalReceptiveFieldClassifier``, already
    preprocessed input) data-parallel: ``n_shards`` shards learnt on the workers, then merged on the workers.

    ``X`` may be a NumPy array (shuffled first when ``estimator.shuffle``, with its ``random_state``, then cut) or
    a Dask array (its row chunks are the shards, in order). ``tree=True`` merges pairwise in rounds (depth
    log2(shards), no process holds more than two shard models); ``tree=False`` folds the shards into the first
    one after another, in stream order: with shards of one image each and ``batch_size=1`` that is exactly the
    paper's sequential rule. ``shard_budget="full"`` gives every shard the whole ``max_neurons`` per bank (the
    merges then average the shards' neurons into one another); ``"split"`` gives each ``max_neurons // n_shards``
    (the merges then mostly grow: the shards' neurons side by side). Returns the fitted model, an ordinary
    estimator."""
    if not isinstance(estimator, (MemoryNetworkClassifier, LocalReceptiveFieldClassifier)):
        raise ValueError(f"distributed.fit merges the labelled memories of shards; a {type(estimator).__name__} "
                         "has none to merge: fit it on one machine (or use a paper or receptive-field model)")
    dask, _, _ = _dask()
    if n_shards < 1:
        raise ValueError(f"n_shards must be at least 1, got {n_shards}")
    if shard_budget not in ("full", "split"):
        raise ValueError(f"shard_budget must be 'full' or 'split', got {shard_budget!r}")
    classes = np.unique(y) if classes is None else np.unique(classes)
    shard_neurons = None if shard_budget == "full" else max(len(classes), estimator.max_neurons // n_shards)
    order = None
    if estimator.shuffle and not hasattr(X, "to_delayed"):
        order = check_random_state(estimator.random_state).permutation(len(y))
    learn = dask.delayed(_learn_shard, pure=False)
    models = [learn(estimator, Xs, ys, classes, shard_neurons) for Xs, ys in _shards(X, y, n_shards, order)]
    combine = dask.delayed(merge, pure=False)
    while len(models) > 1:
        if tree:  # pairwise rounds
            models = [combine(models[i], models[i + 1]) if i + 1 < len(models) else models[i]
                      for i in range(0, len(models), 2)]
        else:
            models = [combine(models[0], models[1]), *models[2:]]
    return _run(models[0], client)


def _learn_positions(model, images, classes_idx, positions: list[int]) -> list[NeuronBank]:
    """The banks of some positions of a receptive-field ``model`` (its image shape and classes set), each learnt
    from its patches of ``images`` in the given order."""
    rule, banks = model._rule(), []
    for position in positions:
        patches = model._patches(images, model.corners_[position])
        bank = NeuronBank(patches.shape[1], model.max_neurons)
        rule.learn(bank, model._new_searcher(bank), patches, classes_idx, model.batch_size)
        banks.append(bank)
    return banks


def fit_positions(estimator, X, y, *, client=None, groups: int | None = None):
    """Fit a copy of a ``LocalReceptiveFieldClassifier`` model-parallel: the positions are split into ``groups``
    tasks (default: one per worker thread), each learning its positions' banks from the images (sent once per
    task), in the same order as ``fit``. Returns the fitted model, identical to ``estimator.fit(X, y)``."""
    dask, _, _ = _dask()
    model = clone(estimator).set_params(verbose=False)
    rows = model._validate_X(X, reset=True)
    _, y = model._validate_Xy(rows, y, reset=False)
    model._begin(np.unique(y))
    model.banks_ = []  # made by the tasks
    images = rows.reshape(len(rows), *model.image_shape_)
    classes_idx = model._class_indices(y)
    if model.shuffle:
        order = check_random_state(model.random_state).permutation(len(rows))
        images, classes_idx = images[order], classes_idx[order]
    if groups is None:
        groups = sum(client.nthreads().values()) if client is not None else 1
    positions = [part.tolist() for part in np.array_split(np.arange(len(model.corners_)), groups) if len(part)]
    learn = dask.delayed(_learn_positions, pure=False)
    parts = _run([learn(model, images, classes_idx, part) for part in positions], client)
    model.banks_ = [bank for part in parts for bank in part]
    model._searcher_cache = None
    model.n_samples_seen_ = len(rows)
    return model.set_params(verbose=estimator.verbose)


def _blocks(model, X, method: str, client):
    """``model.<method>`` on every row block of the Dask array ``X``, the model scattered to the workers once."""
    _, da, _ = _dask()
    if not isinstance(X, da.Array):
        return getattr(model, method)(X)
    shared = client.scatter(model, broadcast=True) if client is not None else model
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    if method == "predict":
        return X.map_blocks(lambda block, m: m.predict(block), shared, drop_axis=list(range(1, X.ndim)),
                            dtype=model.classes_.dtype)
    n_classes = len(model.classes_)
    return X.map_blocks(lambda block, m: m.predict_proba(block), shared, drop_axis=list(range(2, X.ndim)),
                        chunks=(X.chunks[0], (n_classes,)), dtype=np.float64)


def predict(model, X, *, client=None):
    """``model.predict`` over a Dask array (lazily, one task per row block) or a NumPy array."""
    return _blocks(model, X, "predict", client)


def predict_proba(model, X, *, client=None):
    """``model.predict_proba`` over a Dask array (lazily, one task per row block) or a NumPy array."""
    return _blocks(model, X, "predict_proba", client)


def score(model, X, y, *, client=None) -> float:
    """Accuracy over a Dask (or NumPy) array, computed on the cluster."""
    predicted = predict(model, X, client=client)
    if not hasattr(predicted, "compute"):
        return float(np.mean(predicted == np.asarray(y)))
    correct = (predicted == y).mean()
    return float(client.compute(correct).result() if client is not None else correct.compute())
