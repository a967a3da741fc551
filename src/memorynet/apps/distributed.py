"""Training and prediction on a Dask cluster, with memories merged by the learning rule itself.

- :func:`fit` (data-parallel), for every model: the stream is cut into shards; each shard is learnt into its own
  model by the one-pass rule on a worker; the shard models are merged pairwise (``merge``), in a tree, on the
  workers. The merge *is* the learning rule: every neuron of the second model enters the first as its counter's
  worth of identical inputs at its latent representation (growth while there is room, otherwise a
  counter-weighted running mean into the nearest neuron of its label), so merging shards of one image each is
  exactly the paper's rule. A model with a shared start (``sequential_prefix``: the prototype codes' whitening and
  warm-up) learns it first, on one worker; every shard continues from it, and the merges join the neurons it had
  exactly and the readouts' statistics exactly.
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

__all__ = ["merge", "fit", "fit_positions", "predict", "predict_proba", "score", "connect"]


def _dask():
    try:
        import dask
        import dask.array
        import distributed
    except ImportError as exc:
        raise ImportError("memorynet.apps.distributed needs Dask: pip install 'memorynet[dask]'") from exc
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


def merge(first, second, ancestor=None):
    """``first.merge(second, ancestor)``: a task of the merge tree."""
    return first.merge(second, ancestor)


def _learn_shard(template, start, X, y, classes, shard_neurons: int | None = None):
    """A model learnt in one pass over one shard, in the shard's order, with ``shard_neurons`` per bank (default:
    the template's budget), continuing ``start`` (the stream's shared start) or from nothing; returned with the
    template's parameters, so that it merges with the others."""
    model = copy.deepcopy(start) if start is not None else clone(template)
    model.set_params(shuffle=False, verbose=False)
    if shard_neurons is not None:
        model.set_params(max_neurons=shard_neurons)
    model.partial_fit(X, y, classes=classes)
    for bank in model.banks_:
        bank.raise_capacity(template.max_neurons)
    return model.set_params(max_neurons=template.max_neurons, shuffle=template.shuffle, verbose=template.verbose)


def _learn_start(template, X, y, classes):
    """The stream's shared start learnt by one model, in order."""
    model = clone(template).set_params(shuffle=False, verbose=False).partial_fit(X, y, classes=classes)
    return model.set_params(shuffle=template.shuffle, verbose=template.verbose)


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
    """Fit a copy of ``estimator`` (any memorynet estimator, already preprocessed input) data-parallel:
    ``n_shards`` shards learnt on the workers, then merged on the workers.

    ``X`` may be a NumPy array (shuffled first when ``estimator.shuffle``, with its ``random_state``, then cut) or
    a Dask array (its row chunks are the shards, in order). The first ``estimator.sequential_prefix`` images of the
    (shuffled) stream are learnt first by one task and every shard continues from that model. ``tree=True`` merges
    pairwise in rounds (depth log2(shards), no process holds more than two shard models); ``tree=False`` folds
    the shards into the first one after another, in stream order: with shards of one image each and
    ``batch_size=1`` that is exactly the paper's sequential rule. ``shard_budget="full"`` gives every shard the
    whole ``max_neurons`` per bank (the merges then average the shards' neurons into one another); ``"split"``
    gives each ``max_neurons // n_shards`` (the merges then mostly grow: the shards' neurons side by side).
    Returns the fitted model, an ordinary estimator."""
    dask, da, _ = _dask()
    if hasattr(estimator, "members"):
        raise ValueError(f"Dask training takes one memory model, not a {type(estimator).__name__}: fit each member "
                         "with distributed.fit and join the fitted members with SideBySideClassifier.adopt")
    if n_shards < 1:
        raise ValueError(f"n_shards must be at least 1, got {n_shards}")
    if shard_budget not in ("full", "split"):
        raise ValueError(f"shard_budget must be 'full' or 'split', got {shard_budget!r}")
    estimator._validate_params()
    classes = np.unique(y) if classes is None else np.unique(classes)
    shard_neurons = None if shard_budget == "full" else max(len(classes), estimator.max_neurons // n_shards)
    rows = np.arange(len(y))
    if estimator.shuffle and not isinstance(X, da.Array):
        rows = check_random_state(estimator.random_state).permutation(len(y))
    prefix = min(estimator.sequential_prefix, len(y))
    start = None
    if prefix:
        if isinstance(X, da.Array):
            raise ValueError(f"a {type(estimator).__name__} learns its first {prefix} images on one worker before "
                             "the shards split: give a NumPy array")
        head = rows[:prefix]
        start = dask.delayed(_learn_start, pure=False)(estimator, X[head], np.asarray(y)[head], classes)
    learn = dask.delayed(_learn_shard, pure=False)
    models = [learn(estimator, start, Xs, ys, classes, shard_neurons)
              for Xs, ys in _shards(X, y, n_shards, rows[prefix:] if prefix or estimator.shuffle else None)]
    combine = dask.delayed(merge, pure=False)
    while len(models) > 1:
        if tree:  # pairwise rounds
            models = [combine(models[i], models[i + 1], start) if i + 1 < len(models) else models[i]
                      for i in range(0, len(models), 2)]
        else:
            models = [combine(models[0], models[1], start), *models[2:]]
    return _run(models[0], client)


def _fit_positions(estimator, X, y, positions: list[int]):
    """A copy of ``estimator`` fitted on the banks of ``positions`` only."""
    return clone(estimator).set_params(verbose=False).fit_positions(X, y, positions)


def fit_positions(estimator, X, y, *, client=None, groups: int | None = None):
    """Fit a copy of a ``LocalReceptiveFieldClassifier`` model-parallel: the positions are split into ``groups``
    tasks (default: one per worker thread), each fitting its positions' banks (``fit_positions``, the images
    sent once per task), in the same order as ``fit``. Returns the fitted model, identical to
    ``estimator.fit(X, y)``."""
    dask, _, _ = _dask()
    if not hasattr(estimator, "fit_positions"):
        raise ValueError(f"a {type(estimator).__name__} has no independent positions to learn apart: use fit")
    if groups is None:
        groups = sum(client.nthreads().values()) if client is not None else 1
    model = _fit_positions(estimator, X, y, [])  # validated, every bank empty: the tasks fill them
    parts = [part.tolist() for part in np.array_split(np.arange(len(model.banks_)), groups) if len(part)]
    learn = dask.delayed(_fit_positions, pure=False)
    for other, part in zip(_run([learn(estimator, X, y, part) for part in parts], client), parts):
        for p in part:
            model.banks_[p] = other.banks_[p]
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
