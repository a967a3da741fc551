"""Side-by-side models: members learnt from one pass, standardised evidence added, persistence, ONNX, bad input."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits

from memorynet import LocalReceptiveFieldClassifier, PrototypeCodeClassifier, SideBySideClassifier, load_model
from memorynet.io.model_files import read_model_file, write_model_file
from memorynet.models.persistence import ModelFileError
from memorynet.models.presets import adjust
from memorynet.models.side_by_side import combined_evidence, standardised_evidence

FIELDS = {"patch_size": 4, "stride": 2, "max_neurons": 300}
CODES = {"patch_size": 4, "stride": 2, "max_neurons": 16, "warmup": 300, "whiten_images": 200, "batch_size": 100}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.reshape(-1, 1, 8, 8).astype(np.float32) / 16, y


def pair(**params) -> SideBySideClassifier:
    return SideBySideClassifier(**{"members": [("receptive-fields", FIELDS), ("codes", CODES)], "random_state": 0,
                                   **params})


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return pair(weights=[1.0, 0.5]).fit(X[:1200], y[:1200])


def test_standardised_evidence_is_oriented_centred_and_scaled_per_image():
    distances = np.array([[1.0, 2.0, 3.0], [4.0, np.inf, 8.0]])
    z = standardised_evidence(distances, larger_is_better=False)
    np.testing.assert_allclose(z[0], [np.sqrt(1.5), 0, -np.sqrt(1.5)])  # the nearest class scores highest
    np.testing.assert_allclose(z[1], [1.0, -np.inf, -1.0])  # a class without neurons: -inf, not counted
    np.testing.assert_allclose(standardised_evidence(np.ones((1, 3)), True), np.zeros((1, 3)))  # no spread: 0
    total = combined_evidence([z, np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])], [1.0, 0.0])
    np.testing.assert_array_equal(total, z)  # weight 0: the member does not count (its -inf would)


def test_each_member_is_the_model_it_would_be_alone(digits, fitted):
    X, y = digits
    fields = LocalReceptiveFieldClassifier(**FIELDS, random_state=0).fit(X[:1200], y[:1200])
    codes = PrototypeCodeClassifier(**CODES, random_state=0).fit(X[:1200], y[:1200])
    for alone, member in zip((fields, codes), fitted.estimators_):
        np.testing.assert_array_equal(alone.predict_proba(X[1200:]), member.predict_proba(X[1200:]))
    assert fitted.n_samples_seen_ == 1200 and list(fitted.classes_) == list(range(10))
    expected = standardised_evidence(fields.class_distances(X[1200:]), False) + 0.5 * standardised_evidence(
        codes.decision_function(X[1200:]), True)
    np.testing.assert_allclose(fitted.decision_function(X[1200:]), expected)
    assert np.array_equal(fitted.predict(X[1200:]), fitted.classes_[expected.argmax(1)])
    only_fields = clone(fitted).set_params(weights=[1.0, 0.0])
    only_fields.estimators_ = fitted.estimators_  # weights are read at prediction only
    assert np.array_equal(only_fields.predict(X[1200:]), fields.predict(X[1200:]))
    proba = fitted.predict_proba(X[1200:])
    np.testing.assert_allclose(proba.sum(1), 1)


def test_a_stream_of_chunks_teaches_every_member(digits):
    X, y = digits
    model = pair()
    for start in range(0, 1200, 300):
        model.partial_fit(X[start:start + 300], y[start:start + 300], classes=np.arange(10))
    assert model.n_samples_seen_ == 1200 and all(m.n_samples_seen_ == 1200 for m in model.estimators_)
    assert model.score(X[1200:], y[1200:]) > 0.9
    before = [m.n_samples_seen_ for m in model.estimators_]
    with pytest.raises(ValueError):
        model.partial_fit(X[:10, :, :4], y[:10])  # the wrong image shape: refused before any member learns
    assert [m.n_samples_seen_ for m in model.estimators_] == before


@pytest.mark.parametrize("params, message", [
    ({"members": []}, "non-empty list"),
    ({"members": [("forest", {})]}, "unknown member kind 'forest'"),
    ({"members": [("codes", {"random_state": 1})]}, "the side-by-side model's own"),
    ({"members": [("codes", {"max_neurons": 0})]}, "member 'codes'"),
    ({"weights": [1.0]}, "2 finite non-negative numbers"),
    ({"weights": [0.0, 0.0]}, "not all zero"),
])
def test_bad_parameters_are_named(digits, params, message):
    X, y = digits
    with pytest.raises(ValueError, match=message):
        pair(**params).fit(X[:400], y[:400])


def test_adjust_reaches_every_member():
    model = pair()
    adjust(model, lambda p: {"max_neurons": p["max_neurons"] // 2})
    assert [params["max_neurons"] for _, params in model.members] == [150, 8]


def test_a_saved_model_loads_with_every_member(digits, fitted, tmp_path):
    X, _ = digits
    path = fitted.save(tmp_path / "pair.mnet", metadata={"note": "both"})
    loaded, metadata = load_model(path)
    assert metadata == {"note": "both"} and isinstance(loaded, SideBySideClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(X[1200:]), fitted.predict_proba(X[1200:]))
    assert SideBySideClassifier.load(path).get_params() == loaded.get_params()
    with pytest.raises(ModelFileError, match="not a PrototypeCodeClassifier"):
        PrototypeCodeClassifier.load(path)


def test_a_file_whose_members_are_not_its_parameters_is_refused(fitted, tmp_path):
    header, arrays = read_model_file(fitted.save(tmp_path / "pair.mnet"))
    header = {k: v for k, v in header.items() if k not in ("sha256", "format", "format_version", "library_version")}
    header["params"]["members"][1][1]["max_neurons"] = 17  # a valid file (checksum recomputed), inconsistent
    write_model_file(tmp_path / "crafted.mnet", header, arrays)
    with pytest.raises(ModelFileError, match="not those the side-by-side model's parameters name"):
        load_model(tmp_path / "crafted.mnet")
    nested = {**header, "members": [header, header["members"][1]]}  # a side-by-side member: refused
    write_model_file(tmp_path / "nested.mnet", nested, arrays)
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "nested.mnet")
    del arrays["member1_memories"]
    with pytest.raises(ValueError):
        write_model_file(tmp_path / "missing.mnet", header, arrays)


def test_onnx_gives_the_models_labels_and_scores(digits, fitted):
    ort = pytest.importorskip("onnxruntime", reason="ONNX export needs pip install 'memorynet[onnx]'")
    X, _ = digits
    session = ort.InferenceSession(fitted.to_onnx().SerializeToString())
    labels, scores = session.run(None, {"images": X[1200:]})
    assert np.mean(labels == fitted.predict(X[1200:])) >= 0.999
    np.testing.assert_allclose(scores, fitted.predict_proba(X[1200:]), atol=1e-5)
