"""The model protocol that the CLI, the web page, Dask and the experiments use: every kind of model answers it,
and every public method gives a right answer for its model or does not exist on it."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from memorynet import LocalReceptiveFieldClassifier, MemoryNetworkClassifier, PrototypeCodeClassifier
from memorynet.engine.kernels import three_way_mean
from memorynet.models.readout import StreamingLDA


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.reshape(-1, 1, 8, 8).astype(np.float32) / 16, y


MODELS = {
    "paper": lambda: MemoryNetworkClassifier(300, random_state=0),
    "receptive-fields": lambda: LocalReceptiveFieldClassifier(4, 2, 100, random_state=0),
    "prototype-codes": lambda: PrototypeCodeClassifier(4, 2, 16, warmup=300, whiten_images=200, batch_size=100,
                                                       random_state=0),
}


@pytest.fixture(params=list(MODELS), scope="module")
def fitted(request, digits):
    X, y = digits
    return request.param, MODELS[request.param]().fit(X[:1200], y[:1200])


def test_memory_view_labels_are_the_neurons_classes_or_none(fitted):
    name, model = fitted
    view = model.memory_view()
    assert len(view["memories"]) == len(view["counters"]) == len(model.banks_[view["position"]])
    if name == "prototype-codes":
        assert view["labels"] is None and not model.labelled_memories
    else:
        assert model.labelled_memories
        np.testing.assert_array_equal(view["labels"], model.classes_[model.banks_[view["position"]].classes])


def test_explain_agrees_with_predict_and_the_evidence_ranks_the_prediction_first(fitted, digits):
    name, model = fitted
    X = digits[0][1200:1260]
    why = model.explain(X, k=3)
    np.testing.assert_array_equal(why["prediction"], model.predict(X))
    np.testing.assert_allclose(why["proba"], model.predict_proba(X))
    distances, rows = why["nearest"]
    assert distances.shape == rows.shape == (60, 3) and (np.diff(distances, axis=1) >= 0).all()
    best = why["evidence"].argmax(1) if why["larger_is_better"] else why["evidence"].argmin(1)
    if name != "paper":  # the paper's model votes by its nearest neuron, not by the summed evidence
        np.testing.assert_array_equal(model.classes_[best], why["prediction"])
    else:
        np.testing.assert_array_equal(why["evidence"].min(1), distances[:, 0])


def test_class_images_and_sizes(fitted):
    name, model = fitted
    images = model.class_images()
    assert images.shape == (10, 1, 8, 8) and np.isfinite(images).all()
    sizes, unit = model.class_sizes()
    assert unit == ("images" if name == "prototype-codes" else "neurons") and sizes.shape == (10,)
    assert sizes.sum() == (1200 - 300 if name == "prototype-codes" else model.n_neurons_)
    assert np.corrcoef(images[0].ravel(), images[1].ravel())[0, 1] < 0.9  # a 0 does not look like a 1


def test_methods_that_would_give_wrong_answers_do_not_exist():
    assert not hasattr(PrototypeCodeClassifier, "class_distances") and not hasattr(PrototypeCodeClassifier,
                                                                                   "make_room")
    assert "distance" not in vars(PrototypeCodeClassifier) and "p" not in vars(PrototypeCodeClassifier)
    assert "distance" not in PrototypeCodeClassifier().get_params()


@pytest.mark.parametrize("name", list(MODELS))
def test_five_lessons_teach_a_new_class(name, digits):
    X, y = digits
    known = y[:1200] != 9
    model = MODELS[name]().fit(X[:1200][known], y[:1200][known])
    nines = np.flatnonzero(y[1200:] == 9) + 1200
    for row in nines[:5]:
        lesson = model.teach(X[row:row + 1], [9])
    assert model.classes_.tolist() == list(range(10)) and lesson["new_classes"] == []
    held_out = model.predict(X[nines[5:45]])
    assert (held_out == 9).mean() > 0.4  # five images taught the class well enough to find most other nines
    others = y[1300:1500] != 9
    assert model.score(X[1300:1500][others], y[1300:1500][others]) > 0.8  # and the old classes stay


@pytest.mark.parametrize("name", list(MODELS))
def test_add_classes_on_every_kind(name, digits):
    X, y = digits
    model = MODELS[name]().fit(X[:600], y[:600])
    before = model.predict(X[600:700])
    assert model.add_classes([10, 11]).tolist() == list(range(12))
    assert set(model.predict(X[600:700])) <= set(range(10))  # classes without memories are never predicted
    if name == "prototype-codes":  # the readout learns nothing from an announcement: same answers
        np.testing.assert_array_equal(model.predict(X[600:700]), before)
    with pytest.raises(ValueError, match="labels the model does not know yet"):
        model.add_classes([3])


def test_three_way_mean_is_the_running_mean_of_everything():
    rng = np.random.default_rng(0)
    base, mine, theirs = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(7, 4))
    joined, count = three_way_mean(((3 * base[0] + mine.sum(0))[None] / 8, np.array([8])),
                                   ((3 * base[0] + theirs.sum(0))[None] / 10, np.array([10])),
                                   (base[0][None], np.array([3])))
    np.testing.assert_allclose(joined[0], (3 * base[0] + mine.sum(0) + theirs.sum(0)) / 15)
    assert count.tolist() == [15]


def test_readout_statistics_merge_exactly():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(300, 6)), rng.integers(0, 3, 300)
    whole = StreamingLDA(0.1).partial_fit(X, y, classes=[0, 1, 2])
    first = StreamingLDA(0.1).partial_fit(X[:120], y[:120], classes=[0, 1, 2])
    first.merge(StreamingLDA(0.1).partial_fit(X[120:], y[120:], classes=[0, 1, 2]))
    np.testing.assert_array_equal(first.counts_, whole.counts_)
    np.testing.assert_allclose(first.means_, whole.means_)
    np.testing.assert_allclose(first.scatter(), whole.scatter(), rtol=1e-10, atol=1e-10)
    empty = StreamingLDA(0.1)
    empty.merge(whole)
    np.testing.assert_allclose(empty.decision_function(X), whole.decision_function(X))


def test_codes_merged_from_a_shared_start_keep_every_input(digits):
    X, y = digits
    model = MODELS["prototype-codes"]
    start = model().set_params(shuffle=False).partial_fit(X[:300], y[:300], classes=np.arange(10))
    a = model().set_params(shuffle=False).partial_fit(X[:300], y[:300], classes=np.arange(10)).partial_fit(
        X[300:800], y[300:800])
    b = model().set_params(shuffle=False).partial_fit(X[:300], y[:300], classes=np.arange(10)).partial_fit(
        X[800:1300], y[800:1300])
    merged = a.merge(b, ancestor=start)
    assert merged.n_samples_seen_ == 1300 and merged.readout_.counts_.sum() == 1000
    for bank, mine, theirs, base in zip(merged.banks_, a.banks_, b.banks_, start.banks_):
        np.testing.assert_array_equal(bank.counters, mine.counters + theirs.counters - base.counters)
    whole = model().set_params(shuffle=False).fit(X[:1300], y[:1300])
    assert merged.score(X[1300:], y[1300:]) > whole.score(X[1300:], y[1300:]) - 0.03
    with pytest.raises(ValueError, match="whitening differs"):
        a.merge(model().set_params(shuffle=False).fit(X[500:1300], y[500:1300]))
