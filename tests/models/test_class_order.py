"""No forgetting by default: the order in which classes arrive (announced or not) barely changes what every model
learns (issue 23). Scikit-learn's digits, 5 tasks of 2 classes; the real-data table is benchmarks/class_order.py."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from memorynet import LocalReceptiveFieldClassifier, MemoryNetworkClassifier, PrototypeCodeClassifier

MODELS = {
    "paper": lambda **k: MemoryNetworkClassifier(100, **k),
    "receptive-fields": lambda **k: LocalReceptiveFieldClassifier(4, 2, 100, **k),
    "codes": lambda **k: PrototypeCodeClassifier(4, 2, 16, warmup=150, whiten_images=100, batch_size=50, **k),
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = (X[order] / 16).astype(np.float32).reshape(-1, 1, 8, 8), y[order]
    tasks = [np.flatnonzero(np.isin(y[:1300], [2 * t, 2 * t + 1])) for t in range(5)]
    return X[:1300], y[:1300], X[1300:], y[1300:], tasks


def _accuracies(make, digits, **params) -> dict:
    X, y, X_test, y_test, tasks = digits
    ordered = np.concatenate(tasks)
    out = {"iid": make(random_state=0, **params).fit(X, y).score(X_test, y_test),
           "ordered fit": make(shuffle=False, **params).fit(X[ordered], y[ordered]).score(X_test, y_test)}
    for protocol, classes in (("declared", np.arange(10)), ("unannounced", None)):
        model = make(**params)
        for rows in tasks:
            model.partial_fit(X[rows], y[rows], classes=classes)
        out[protocol] = model.score(X_test, y_test)
    return out


@pytest.mark.parametrize("kind", MODELS)
def test_the_defaults_do_not_forget(digits, kind):
    scores = _accuracies(MODELS[kind], digits)
    allowed = 0.04 if kind == "codes" else 0.02  # codes: whitening and dictionaries learnt on the first task only
    assert all(scores["iid"] - s <= allowed for s in scores.values()), scores


@pytest.mark.parametrize("kind, params", [("paper", {"class_budget": "shared"}),
                                          ("receptive-fields", {"class_budget": "shared"}),
                                          ("codes", {"freeze_dictionaries": False})])
def test_the_settings_that_forget_are_still_there_and_do(digits, kind, params):
    scores = _accuracies(MODELS[kind], digits, **params)
    assert scores["iid"] - min(scores.values()) > 0.08, scores  # the comparison above can fail


def test_a_class_arriving_unannounced_on_a_full_memory_gets_its_share_and_nothing_is_lost(digits):
    X, y, _, _, tasks = digits
    X = X.reshape(len(X), -1)
    model = MemoryNetworkClassifier(100, shuffle=False)
    for rows in tasks:
        model.partial_fit(X[rows], y[rows])
        counts = np.bincount(model.labels_, minlength=len(model.classes_))
        assert model.n_neurons_ == 100 and counts.min() >= 100 // len(model.classes_), counts
    assert model.counters_.sum() == sum(len(t) for t in tasks)  # merged, never dropped


def test_a_long_tailed_stream_leaves_no_class_without_its_share():
    rng = np.random.default_rng(0)
    sizes = np.linspace(500, 50, 10).astype(int)  # class frequencies 10:1
    y = np.repeat(np.arange(10), sizes)
    X = (rng.normal(size=(10, 6))[y] + rng.normal(0, 0.3, (len(y), 6))).astype(np.float32)
    model = MemoryNetworkClassifier(200, shuffle=False).fit(X, y)  # classes in order, the frequent ones first
    counts = np.bincount(model.labels_, minlength=10)
    assert counts.min() >= 20 and model.n_neurons_ == 200, counts
    assert model.counters_.sum() == len(y)
