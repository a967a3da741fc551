"""Learning on a torch device (here torch's CPU device; the same code runs on CUDA): the device rule learns the host
rule's memory, writes back only what it changed, and the estimators and the readout take it with
``search_backend="torch"``."""

import pickle

import numpy as np
import pytest
from references import reference_fit
from sklearn.datasets import load_digits

pytest.importorskip("torch", reason="learning on a device needs PyTorch: pip install torch==2.13.0 (the CPU build; "
                                    ".ci/run installs it)")

from memorynet import LocalReceptiveFieldClassifier, MemoryNetworkClassifier, NeuronBank, PrototypeCodeClassifier  # noqa: E402
from memorynet.engine.bank import BankError  # noqa: E402
from memorynet.engine.device import DeviceBank, DeviceOnePassRule, DeviceSearcher  # noqa: E402
from memorynet.engine.rule import NoRoomForClass, OnePassRule  # noqa: E402
from memorynet.engine.searchers import NumpySearcher  # noqa: E402
from memorynet.models import on_device  # noqa: E402
from memorynet.models.prototype_codes import triangle_codes  # noqa: E402
from memorynet.models.readout import StreamingLDA  # noqa: E402


def _stream(seed, n=600, width=8, n_classes=4, ordered=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    X = (rng.normal(size=(n_classes, width))[y] * 2 + rng.normal(size=(n, width))).astype(np.float32)
    if ordered:  # the classes one after another
        order = np.argsort(y, kind="stable")
        X, y = X[order], y[order]
    return X, y, rng.integers(1, 4, n)


def _learn(rule, X, y, capacity, batch_size=50, weights=None, chunks=3):
    bank = NeuronBank(X.shape[1], capacity)
    searcher = NumpySearcher().attach(bank)
    for rows in np.array_split(np.arange(len(X)), chunks):  # passes one after another, as partial_fit makes them
        rule.learn(bank, searcher, X[rows], y[rows], batch_size, weights=None if weights is None else weights[rows])
    return bank


def _same_bank(found, expected):
    np.testing.assert_array_equal(found.classes, expected.classes)
    np.testing.assert_array_equal(found.counters, expected.counters)
    np.testing.assert_allclose(found.memories, expected.memories, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("threshold", [None, 6.0])
@pytest.mark.parametrize("class_budget, consolidate", [("shared", False), ("balanced", True), ("fair", False),
                                                       ("fair", True)])
@pytest.mark.parametrize("ordered", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_device_rule_learns_the_host_rules_memory(threshold, class_budget, consolidate, ordered, weighted):
    X, y, w = _stream(int(ordered) + 2 * int(weighted), ordered=ordered)
    options = {"threshold": threshold, "class_budget": class_budget, "consolidate": consolidate}
    weights = w if weighted else None
    host = _learn(OnePassRule(4, **options), X, y, 60, weights=weights)
    _same_bank(_learn(DeviceOnePassRule(4, device="cpu", **options), X, y, 60, weights=weights), host)


@pytest.mark.parametrize("threshold, batch_size", [(None, 1), (2.0, 1), (None, 32), (3.0, 32)])
def test_the_device_rule_follows_the_reference_loop(threshold, batch_size):
    X, y, _ = _stream(5, n=200, width=6, n_classes=3)
    bank = _learn(DeviceOnePassRule(3, threshold=threshold, class_budget="shared", device="cpu"), X, y, 25,
                  batch_size, chunks=1)
    memories, classes, counters = reference_fit(X, y, 25, threshold, batch_size=batch_size)
    np.testing.assert_array_equal(bank.classes, classes)
    np.testing.assert_array_equal(bank.counters, counters)
    np.testing.assert_allclose(bank.memories, memories, rtol=1e-5, atol=1e-5)


class _Told:
    """An observer that records the rows a bank says it changed."""

    def __init__(self):
        self.rows = []

    def rows_changed(self, rows):
        self.rows.append(np.asarray(rows))


def test_a_pass_writes_back_once_only_the_rows_it_changed_and_the_host_searchers_follow():
    X, y, _ = _stream(7, n=300)
    bank = _learn(OnePassRule(4), X[:200], y[:200], 100, chunks=1)
    searcher, told = NumpySearcher().attach(bank), _Told()
    bank.attach(told)
    before = bank.to_arrays()
    DeviceOnePassRule(4, device="cpu").learn(bank, searcher, X[200:210], y[200:210], batch_size=5)
    changed = np.unique(np.concatenate(told.rows))
    assert len(told.rows) <= 2  # the changed rows replaced at once, the new rows appended at once
    untouched = np.setdiff1d(np.arange(len(before["classes"])), changed)
    assert len(changed) <= 10 and len(untouched) >= len(before["classes"]) - 10
    np.testing.assert_array_equal(bank.memories[untouched], before["memories"][untouched])
    queries, classes = X[:50], y[:50]
    fresh = NumpySearcher().attach(bank)
    for found, expected in zip(searcher.nearest_same_label(queries, classes), fresh.nearest_same_label(queries,
                                                                                                      classes)):
        np.testing.assert_array_equal(found, expected)


def test_no_room_for_a_new_class_leaves_the_host_bank_unchanged():
    bank = NeuronBank(1, 2)
    searcher = NumpySearcher().attach(bank)
    rule = DeviceOnePassRule(2, new_label_policy="error", class_budget="shared", device="cpu")
    rule.learn(bank, searcher, np.array([[0.0], [1.0]], np.float32), np.array([0, 0]), 1)
    before = bank.to_arrays()
    with pytest.raises(NoRoomForClass):
        rule.learn(bank, searcher, np.array([[0.5], [3.0]], np.float32), np.array([0, 1]), 2)
    for name, array in bank.to_arrays().items():
        np.testing.assert_array_equal(array, before[name])


@pytest.mark.parametrize("metric", ["l2", "cosine", "l1", "lp"])
def test_the_device_searcher_finds_the_host_searchers_same_label_neighbours(metric):
    rng = np.random.default_rng(4)
    bank = NeuronBank(12, 200)
    bank.append(rng.random((90, 12), dtype=np.float32), np.arange(90) % 4)
    on_device = DeviceBank(bank, 0, "cpu")
    X, classes = rng.random((70, 12), dtype=np.float32), np.arange(70) % 5  # class 4 has no neuron
    found = DeviceSearcher(metric, 3.0).attach(on_device).nearest_same_label(X, classes)
    expected = NumpySearcher(metric, 3.0).attach(bank).nearest_same_label(X, classes)
    np.testing.assert_array_equal(found[1], expected[1])
    np.testing.assert_allclose(found[0], expected[0], rtol=1e-4, atol=1e-5)


def test_a_device_bank_holds_the_rows_of_its_pass_and_no_more():
    bank = NeuronBank(3, 100)
    on_device = DeviceBank(bank, 2, "cpu")
    on_device.append(np.ones((2, 3), np.float32), np.array([0, 1]))
    with pytest.raises(BankError, match="reserved"):
        on_device.append(np.ones((1, 3), np.float32), np.array([0]))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32) / 16, y


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_the_receptive_fields_learn_on_the_device_what_they_learn_on_the_host(digits, n_jobs):
    X, y = digits
    params = {"patch_size": 4, "stride": 2, "max_neurons": 120, "image_shape": (1, 8, 8), "random_state": 0,
              "n_jobs": n_jobs}
    host = LocalReceptiveFieldClassifier(**params).fit(X[:1200], y[:1200])
    device = LocalReceptiveFieldClassifier(**params, search_backend="torch").fit(X[:1200], y[:1200])
    assert all(isinstance(rule, DeviceOnePassRule) for rule in device._rules())
    for found, expected in zip(device.banks_, host.banks_):
        _same_bank(found, expected)
    np.testing.assert_array_equal(device.predict(X[1200:]), host.predict(X[1200:]))


def test_the_paper_model_streams_on_the_device_as_on_the_host(digits):
    X, y = digits
    host, device = (MemoryNetworkClassifier(150, random_state=0, search_backend=backend) for backend in
                    ("numpy", "torch"))
    for start in range(0, 1500, 500):
        for model in (host, device):
            model.partial_fit(X[start:start + 500], y[start:start + 500], classes=np.arange(10))
    _same_bank(device.banks_[0], host.banks_[0])
    np.testing.assert_array_equal(device.predict(X[1500:]), host.predict(X[1500:]))


@pytest.mark.parametrize("precision, tolerance", [("float64", 1e-10), ("float32", 1e-5)])
def test_the_readout_accumulates_and_solves_on_the_device(precision, tolerance):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 2000)
    X = (rng.normal(size=(2000, 70)) + 0.3 * y[:, None]).astype(np.float32)
    host, device = (StreamingLDA(0.01, chunk_precision=precision, device=where) for where in (None, "cpu"))
    for start in range(0, 2000, 450):
        for model in (host, device):
            model.partial_fit(X[start:start + 450], y[start:start + 450], classes=np.arange(5))
    weights = device.discriminant()[0]
    assert device.__dict__["_pending"] is not None  # the scatter is still on the device: solved there
    scale = np.abs(host.scatter()).max()
    np.testing.assert_allclose(device.scatter(), host.scatter(), atol=tolerance * scale)
    assert device.__dict__["_pending"] is None  # read on the host: folded into the tiles
    np.testing.assert_allclose(weights, host.discriminant()[0], atol=tolerance * np.abs(weights).max() * 10)
    np.testing.assert_array_equal(device.predict(X), host.predict(X))
    for model in (host, device):  # learning goes on after a fold: the tiles and the device's part add up
        model.partial_fit(X[:300], y[:300])
    weights = device.discriminant()[0]
    np.testing.assert_allclose(weights, host.discriminant()[0], atol=tolerance * np.abs(weights).max() * 10)
    saved = pickle.loads(pickle.dumps(device))
    assert saved.__dict__["_pending"] is None  # a saved readout holds no device tensor
    np.testing.assert_allclose(saved.scatter(), host.scatter(), atol=tolerance * scale)


def test_triangle_codes_on_the_device_are_the_hosts():
    rng = np.random.default_rng(2)
    patches, prototypes = rng.normal(size=(50, 9)).astype(np.float32), rng.normal(size=(6, 9)).astype(np.float32)
    found = on_device.triangle_codes(patches, prototypes, 8, "cpu")
    np.testing.assert_allclose(found, triangle_codes(patches, prototypes, 8), rtol=1e-5, atol=1e-5)
    assert found[:, 6:].max() == 0 and found.max() > 0  # a dictionary still growing: its missing columns are zero
    assert not on_device.triangle_codes(patches, prototypes[:0], 3, "cpu").any()


def test_the_prototype_codes_learn_their_dictionaries_and_readout_on_the_device(digits):
    X, y = digits
    params = {"patch_size": 4, "stride": 2, "max_neurons": 16, "warmup": 300, "whiten_images": 200,
              "batch_size": 100, "image_shape": (1, 8, 8), "random_state": 0}
    host = PrototypeCodeClassifier(**params).fit(X[:1400], y[:1400])
    device = PrototypeCodeClassifier(**params, search_backend="torch").fit(X[:1400], y[:1400])
    assert device.readout_.device == "cpu" and host.readout_.device is None
    assert all(isinstance(rule, DeviceOnePassRule) for rule in device._rules())  # the dictionaries learn there too
    for found, expected in zip(device.banks_, host.banks_):
        _same_bank(found, expected)
    np.testing.assert_array_equal(device.predict(X[1400:]), host.predict(X[1400:]))
