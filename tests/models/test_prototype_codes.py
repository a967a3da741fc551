"""The prototype-code model: its fixed steps, its phases, the one-pass protocol, persistence and bad input."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from memorynet import PrototypeCodeClassifier, load_model
from memorynet.io.model_files import read_model_file, write_model_file
from memorynet.models.persistence import ModelFileError
from memorynet.models.prototype_codes import triangle_codes, zca_whitening


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.reshape(-1, 1, 8, 8).astype(np.float32) / 16, y


def small(**params) -> PrototypeCodeClassifier:
    return PrototypeCodeClassifier(**{"patch_size": 4, "stride": 2, "max_neurons": 16, "warmup": 300,
                                      "whiten_images": 200, "batch_size": 100, "random_state": 0, **params})


def test_triangle_codes_reward_prototypes_closer_than_average_and_pad_a_growing_dictionary():
    prototypes = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=np.float32)
    codes = triangle_codes(np.array([[0.0, 0.0]], dtype=np.float32), prototypes, 5)
    np.testing.assert_allclose(codes, [[7 / 3, 0, 0, 0, 0]], rtol=1e-6)  # distances 0, 3, 4: mean 7/3
    assert not triangle_codes(np.ones((2, 2), dtype=np.float32), prototypes[:0], 3).any()


def test_zca_whitening_gives_the_identity_covariance():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(20000, 4)) @ rng.normal(size=(4, 4)) + 5
    mean, matrix = zca_whitening(rows.sum(0), rows.T @ rows, len(rows), eps=1e-9)
    np.testing.assert_allclose(np.cov((rows - mean) @ matrix, rowvar=False), np.eye(4), atol=1e-3)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-9)  # ZCA: symmetric, stays close to the input


def test_the_phases_whitening_then_dictionaries_then_readout(digits):
    X, y = digits
    model = small(shuffle=False).fit(X[:1000], y[:1000])
    assert model.patch_count_ == 200  # the first 200 images only counted patches
    assert model.readout_.counts_.sum() == 1000 - 300  # the readout learnt every image after the warm-up
    # dictionaries: images 200..299 (every patch around their position), then frozen
    shifts = [len(model._neighbourhood(p)) for p in range(len(model.banks_))]
    assert [int(bank.counters.sum()) for bank in model.banks_] == [100 * n for n in shifts] and max(shifts) == 25
    learning = small(shuffle=False, freeze_dictionaries=False).fit(X[:1000], y[:1000])
    assert [int(bank.counters.sum()) for bank in learning.banks_] == [800 * n for n in shifts]  # images 200..999
    assert model.n_codes_ == len(model.banks_) * 16 == model.codes(X[:2]).shape[1]
    assert model.score(X[1000:], y[1000:]) > 0.9


@pytest.mark.parametrize("jitter", [0, 1])
def test_a_dictionary_is_taught_by_its_own_neighbourhood_only(digits, jitter):
    X, y = digits
    base = small(whiten_images=0, shuffle=False, patch_jitter=jitter).fit(X[:600], y[:600])
    changed = X[:600].copy()
    changed[:, :, :2, :2] = 1 - changed[:, :, :2, :2]  # pixels only patches with a corner in rows/columns 0-1 see
    other = small(whiten_images=0, shuffle=False, patch_jitter=jitter).fit(changed, y[:600])
    moved = [not np.array_equal(a.memories, b.memories) for a, b in zip(base.banks_, other.banks_)]
    sees = [any(r < 2 and c < 2 for r, c in base._neighbourhood(p)) for p in range(len(base.banks_))]
    assert moved == sees and sum(sees) == (1 if jitter == 0 else 4)
    codes = base.codes(changed[:50]) != base.codes(X[:50])  # describing: each dictionary its own patch only
    assert codes.reshape(50, len(base.banks_), -1).any(axis=(0, 2)).tolist() == [p == 0 for p in range(len(sees))]


def test_a_stream_of_chunks_builds_the_same_kind_of_model_as_fit(digits):
    X, y = digits
    fitted = [small(random_state=seed).fit(X[:1400], y[:1400]).score(X[1400:], y[1400:]) for seed in range(3)]
    streamed = []
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(1400)
        model = small()
        for start in range(0, 1400, 150):  # chunks that do not match the batches
            rows = order[start:start + 150]
            model.partial_fit(X[rows], y[rows], classes=np.arange(10))
        streamed.append(model.score(X[1400:], y[1400:]))
    assert abs(np.mean(fitted) - np.mean(streamed)) <= 2 * max(np.std(fitted), np.std(streamed), 0.01)


def test_chunks_aligned_to_the_batches_build_the_very_model_of_fit(digits):
    X, y = digits
    fitted = small().fit(X[:1400], y[:1400])  # fit's own order: the permutation of random_state=0
    order = np.random.RandomState(0).permutation(1400)
    streamed = small()
    for start in range(0, 1400, 300):  # chunks of whole batches (batch_size 100)
        rows = order[start:start + 300]
        streamed.partial_fit(X[rows], y[rows], classes=np.arange(10))
    for a, b in zip(fitted.banks_, streamed.banks_):
        np.testing.assert_array_equal(a.memories, b.memories)
        np.testing.assert_array_equal(a.counters, b.counters)
    for name in ("counts_", "means_", "scatter_tiles_"):
        np.testing.assert_array_equal(getattr(fitted.readout_, name), getattr(streamed.readout_, name))
    np.testing.assert_array_equal(fitted.predict(X[1400:]), streamed.predict(X[1400:]))


def test_saved_models_predict_the_same_and_continue_the_pass_exactly(digits, tmp_path):
    X, y = digits
    for stop in (250, 900):  # inside the warm-up (no readout yet), and after it
        model = small(shuffle=False).fit(X[:stop], y[:stop])
        model.save(tmp_path / "m.mnet")
        loaded = load_model(tmp_path / "m.mnet")[0]
        for m in (model, loaded):
            m.partial_fit(X[stop:1200], y[stop:1200])
        np.testing.assert_array_equal(loaded.predict_proba(X[1200:]), model.predict_proba(X[1200:]))
        np.testing.assert_array_equal(loaded.whitening_[3][1], model.whitening_[3][1])


def test_files_with_the_older_square_scatter_still_load_and_predict_the_same(digits, tmp_path):
    X, y = digits
    model = small().fit(X[:900], y[:900])
    header, arrays = read_model_file(model.save(tmp_path / "m.mnet"))
    assert arrays["state_readout_scatter"].ndim == 3  # packed tiles
    arrays["state_readout_scatter"] = np.triu(model.readout_.scatter()).astype(np.float32)  # as files before
    loaded = load_model(write_model_file(tmp_path / "old.mnet", header, arrays))[0]
    np.testing.assert_array_equal(loaded.readout_.scatter_tiles_, model.readout_.scatter_tiles_)
    np.testing.assert_array_equal(loaded.predict_proba(X[900:]), model.predict_proba(X[900:]))


def test_a_tampered_readout_is_refused(digits, tmp_path):
    X, y = digits
    path = small().fit(X[:600], y[:600]).save(tmp_path / "m.mnet")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["state_readout_counts"] = arrays["state_readout_counts"] * 10
    with open(tmp_path / "bad.mnet", "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(ModelFileError, match="checksum"):
        load_model(tmp_path / "bad.mnet")


def test_bad_settings_and_too_little_data_say_what_to_do(digits):
    X, y = digits
    with pytest.raises(ValueError, match="whiten_images=400 must be 0"):
        small(whiten_images=400).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="readout has learnt from no image"):
        small().fit(X[:250], y[:250]).predict(X[:3])
    with pytest.raises(ValueError, match="covariance needs .* GiB"):
        PrototypeCodeClassifier(2, 1, 100000).fit(np.zeros((4, 1, 64, 64), np.float32), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="labels the model does not know yet"):
        small().fit(X[:600], y[:600]).add_classes([3])


def test_prediction_describes_one_chunk_at_a_time_and_scores_as_a_whole(digits, monkeypatch):
    from memorynet.models import feature_readout

    X, y = digits
    model = small().fit(X[:1200], y[:1200])
    whole = model.decision_function(X[1200:])  # 597 images: one chunk
    monkeypatch.setattr(feature_readout, "PREDICT_CHUNK", 50)
    described = []
    features = model._features
    monkeypatch.setattr(model, "_features", lambda images: described.append(len(images)) or features(images))
    np.testing.assert_allclose(model.decision_function(X[1200:]), whole, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X[1200:]), model.classes_[np.argmax(whole, axis=1)])
    assert max(described) == 50 and sum(described) == 2 * 597


def test_probabilities_are_the_readout_posteriors(digits):
    X, y = digits
    model = small().fit(X[:1200], y[:1200])
    proba = model.predict_proba(X[1200:])
    np.testing.assert_allclose(proba.sum(1), 1)
    np.testing.assert_array_equal(model.classes_[proba.argmax(1)], model.predict(X[1200:]))


def test_the_best_presets_are_the_frontier_runs_validation_choice():
    import json
    from pathlib import Path

    from memorynet.models.presets import MODEL_KINDS, PRESETS

    result = json.loads((Path(__file__).resolve().parents[2] / "docs" / "data" / "frontier.json").read_text())
    for name, choice in result["presets"].items():
        chain, cls, values = PRESETS[f"{name}-best"]
        row = next(r for r in result["rows"] if r["dataset"] == name and r["label"] == choice["label"])
        assert chain == row["chain"] and {k: v for k, v in values.items() if k != "n_jobs"} == choice["params"]
        assert MODEL_KINDS[row["entry"]["model"]] is cls
