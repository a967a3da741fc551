"""Local receptive fields and presets."""

import numpy as np
import pytest

from memorynet import LocalReceptiveFieldClassifier, PrototypeCodeClassifier, load_model, save_model
from memorynet.models.presets import PRESETS, adjust, preset
from memorynet.models.receptive_fields import patch_grid
from memorynet.models.side_by_side import MEMBER_KINDS, SideBySideClassifier


def test_patch_grid_covers_the_image():
    assert patch_grid(28, 28, 14, 7) == [(r, c) for r in (0, 7, 14) for c in (0, 7, 14)]
    assert patch_grid(10, 10, 4, 4) == [(r, c) for r in (0, 4, 6) for c in (0, 4, 6)]


@pytest.fixture
def digits():
    from memorynet import datasets

    return datasets.load("digits")


def test_each_position_has_its_own_bank_trained_on_its_patch(digits):
    X = digits.X_train / 16.0
    model = LocalReceptiveFieldClassifier(4, 4, 200, random_state=0).fit(X, digits.y_train)
    assert len(model.banks_) == 4 and model.n_neurons_ == 800
    bank = model.banks_[3]  # bottom-right 4x4 patch
    assert bank.n_features == 16 and bank.counters.sum() == len(X)
    assert not np.shares_memory(model.banks_[0].memories, model.banks_[1].memories)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_each_bank_is_the_rule_run_on_its_patches_in_the_fits_order(digits, n_jobs):
    from sklearn.utils import check_random_state

    from memorynet.engine.bank import NeuronBank
    from memorynet.engine.rule import OnePassRule
    from memorynet.engine.searchers import NumpySearcher

    X, y = digits.X_train / 16.0, digits.y_train
    model = LocalReceptiveFieldClassifier(4, 2, 150, batch_size=64, random_state=0, n_jobs=n_jobs).fit(X, y)
    order = check_random_state(0).permutation(len(X))
    for (r, c), learnt in zip(model.corners_, model.banks_):
        bank = NeuronBank(16, 150)
        patches = np.ascontiguousarray(X[:, :, r:r + 4, c:c + 4], dtype=np.float32).reshape(len(X), -1)
        OnePassRule(10, class_budget="fair").learn(bank, NumpySearcher().attach(bank), patches,
                                                   np.searchsorted(model.classes_, y), 64, order)
        np.testing.assert_array_equal(learnt.memories, bank.memories)
        np.testing.assert_array_equal(learnt.classes, bank.classes)
        np.testing.assert_array_equal(learnt.counters, bank.counters)


def test_distance_combination_equals_a_hand_sum(digits):
    X, X_test = digits.X_train / 16.0, digits.X_test[:20] / 16.0
    model = LocalReceptiveFieldClassifier(4, 4, 100, random_state=0).fit(X, digits.y_train)
    total = np.zeros((20, 10))
    for (r, c), bank in zip(model.corners_, model.banks_):
        patches = X_test[:, :, r:r + 4, c:c + 4].reshape(20, -1)
        d = ((patches[:, None, :] - bank.memories[None]) ** 2).sum(-1)
        for k in range(10):
            total[:, k] += d[:, model.classes_[bank.classes] == k].min(axis=1)
    np.testing.assert_array_equal(model.predict(X_test), total.argmin(axis=1))
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1)


def test_jittered_banks_hold_the_patches_around_their_position_and_are_searched_with_their_own(digits):
    """With room for every patch, the bank at each position holds, with the image's label, each image's patch at
    every corner within patch_jitter pixels of its own (clipped to the image); prediction searches each bank with
    the position's own patch: the summed class distances of a brute-force search over those patches."""
    X, y, X_test = digits.X_train[:300] / 16.0, digits.y_train[:300], digits.X_test[:20] / 16.0
    model = LocalReceptiveFieldClassifier(4, 4, 9 * len(X), patch_jitter=1, random_state=0).fit(X, y)
    assert model._bank_inputs_per_sample() == 9
    total = np.zeros((20, 10))
    for position, ((r, c), bank) in enumerate(zip(model.corners_, model.banks_)):
        around = sorted({(min(max(r + dr, 0), 4), min(max(c + dc, 0), 4)) for dr in (-1, 0, 1) for dc in (-1, 0, 1)})
        assert model._neighbourhood(position) == around
        patches = np.concatenate([X[:, :, a:a + 4, b:b + 4].reshape(len(X), -1) for a, b in around])
        labels = np.tile(y, len(around))
        assert len(bank) == len(patches) and bank.counters.sum() == len(patches)
        stored = {(row.tobytes(), k) for row, k in zip(bank.memories, model.classes_[bank.classes])}
        assert stored == {(row.astype(np.float32).tobytes(), k) for row, k in zip(patches, labels)}
        own = X_test[:, :, r:r + 4, c:c + 4].reshape(20, -1)
        d = ((own[:, None, :] - patches[None]) ** 2).sum(-1)
        for k in range(10):
            total[:, k] += d[:, labels == k].min(axis=1)
    np.testing.assert_allclose(model.class_distances(X_test), total, rtol=1e-4)
    np.testing.assert_array_equal(model.predict(X_test), total.argmin(axis=1))


def test_jittered_fields_with_room_for_every_patch_do_not_depend_on_the_class_order(digits, tmp_path):
    """Nothing merges when every patch has room (each class's fair share of the budget holds all its patches): a
    stream of one class after another builds a model that predicts as the shuffled fit does; its model file keeps
    the jitter and loads (its counters check counts the patches)."""
    X, y, X_test = digits.X_train[:400] / 16.0, digits.y_train[:400], digits.X_test[:100] / 16.0
    room = 9 * 10 * np.bincount(y).max()
    params = {"patch_size": 4, "stride": 2, "max_neurons": room, "patch_jitter": 1, "random_state": 0}
    shuffled = LocalReceptiveFieldClassifier(**params).fit(X, y)
    ordered = LocalReceptiveFieldClassifier(**params)
    for k in range(0, 10, 2):
        mask = (y == k) | (y == k + 1)
        ordered.partial_fit(X[mask], y[mask], classes=np.arange(10))
    np.testing.assert_allclose(ordered.class_distances(X_test), shuffled.class_distances(X_test), rtol=1e-5)
    assert save_model(shuffled, tmp_path / "fields.npz")
    loaded, _ = load_model(tmp_path / "fields.npz")
    assert loaded.patch_jitter == 1
    np.testing.assert_array_equal(loaded.predict(X_test), shuffled.predict(X_test))


def test_vote_combination_and_accuracy(digits):
    X, X_test = digits.X_train / 16.0, digits.X_test / 16.0
    votes = LocalReceptiveFieldClassifier(4, 2, 300, combine="vote", random_state=0).fit(X, digits.y_train)
    assert votes.score(X_test, digits.y_test) > 0.85
    assert LocalReceptiveFieldClassifier(4, 2, 300, random_state=0).fit(X, digits.y_train).score(
        X_test, digits.y_test) > 0.9


def test_patches_larger_than_the_image_are_clipped_and_layouts_checked(digits):
    whole = LocalReceptiveFieldClassifier(9, 1, 100, random_state=0).fit(digits.X_train, digits.y_train)
    assert whole.corners_ == [(0, 0)] and whole.banks_[0].n_features == 64
    with pytest.raises(ValueError, match="image_shape"):
        LocalReceptiveFieldClassifier(2, 1, image_shape=(1, 3, 3)).fit(np.zeros((4, 10)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="images of shape"):
        whole.predict(np.zeros((2, 1, 4, 16)))


def test_accepts_flat_grey_and_colour_layouts(digits):
    X, y = digits.X_train[:200] / 16.0, digits.y_train[:200]
    four_d = LocalReceptiveFieldClassifier(4, 4, 50, random_state=0).fit(X, y)
    for other in (X[:, 0], X.reshape(len(X), -1)):  # (n, H, W) and square (n, D) rows are the same images
        model = LocalReceptiveFieldClassifier(4, 4, 50, random_state=0).fit(other, y)
        assert model.image_shape_ == (1, 8, 8)
        np.testing.assert_array_equal(model.predict(other), four_d.predict(X))


def test_partial_fit_continues_the_pass_like_fit(digits):
    X, y = digits.X_train / 16.0, digits.y_train
    whole = LocalReceptiveFieldClassifier(4, 4, 60, batch_size=50, shuffle=False).fit(X, y)
    stream = LocalReceptiveFieldClassifier(4, 4, 60, batch_size=50, shuffle=False)
    for start in range(0, len(X), 300):
        stream.partial_fit(X[start:start + 300], y[start:start + 300], classes=np.unique(y))
    for a, b in zip(whole.banks_, stream.banks_):
        np.testing.assert_array_equal(a.memories, b.memories)
        np.testing.assert_array_equal(a.counters, b.counters)
    assert stream.n_samples_seen_ == len(X)


@pytest.mark.parametrize("combine", ["distance", "vote"])
def test_probabilities_of_an_image_do_not_depend_on_the_batch(digits, combine):
    X, X_test = digits.X_train / 16.0, digits.X_test[:30] / 16.0
    model = LocalReceptiveFieldClassifier(4, 4, 100, combine=combine, n_neighbors=3, random_state=0)
    model.fit(X, digits.y_train)
    together = model.predict_proba(X_test)
    alone = np.vstack([model.predict_proba(X_test[i:i + 1]) for i in range(len(X_test))])
    np.testing.assert_allclose(together, alone, rtol=1e-4)  # float32 products of other shapes: last bits only


def test_preset_pipeline_saves_and_loads_as_one_file(digits, tmp_path):
    X = np.kron(digits.X_train[:300] * (255 / 16), np.ones((1, 1, 2, 2)))
    pipeline = preset("mnist-rf", random_state=0, max_neurons=100).fit(X, digits.y_train[:300])
    pipeline[-1].save(tmp_path / "m.mnet")
    loaded, meta = load_model(save_model(pipeline, tmp_path / "p.mnet", {"k": 1}))
    assert meta == {"k": 1} and loaded[0].get_params() == pipeline[0].get_params()
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    assert type(LocalReceptiveFieldClassifier.load(tmp_path / "m.mnet")) is LocalReceptiveFieldClassifier


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_are_unfitted_pipelines_that_learn(name, digits):
    pipeline = preset(name, random_state=0)
    assert not hasattr(pipeline[-1], "classes_")
    kinds = [kind for kind, _ in getattr(pipeline[-1], "members", [])]
    if isinstance(pipeline[-1], PrototypeCodeClassifier) or "codes" in kinds:  # a stream long enough for the
        adjust(pipeline[-1], lambda p: {"max_neurons": 16, "warmup": 300, "whiten_images": 100,  # warm-up, scaled
                                        "batch_size": 100, "patch_size": 6, "stride": 2} if "warmup" in p else {})
        X = np.kron(digits.X_train * (255 / 16), np.ones((1, 1, 2, 2)))
        X = np.repeat(X, 3, axis=1) if pipeline[0].chain.startswith("opponent") else X
        assert pipeline.fit(X, digits.y_train).score(X, digits.y_train) > 0.9
    elif name.startswith("cifar10"):
        rng = np.random.default_rng(0)
        X, y = rng.integers(0, 256, (60, 3, 16, 16)), np.arange(60) % 3
        assert pipeline.fit(X, y).score(X, y) > 0.9
    elif name.startswith("mnist"):
        X = np.kron(digits.X_train[:300] * (255 / 16), np.ones((1, 1, 2, 2)))  # 16x16 so the 14px patches fit
        assert pipeline.fit(X, digits.y_train[:300]).score(X, digits.y_train[:300]) > 0.9
    else:
        pipeline.fit(digits.X_train * (255 / 16), digits.y_train)
        assert pipeline.score(digits.X_test * (255 / 16), digits.y_test) > 0.9
    with pytest.raises(ValueError, match="unknown preset"):
        preset("imagenet-best")


def test_huge_values_at_predict_time_are_refused_like_the_paper_model(digits):
    model = LocalReceptiveFieldClassifier(4, 4, 50, random_state=0).fit(digits.X_train / 16.0, digits.y_train)
    with pytest.raises(ValueError, match="would overflow"):
        model.predict(np.full((2, 1, 8, 8), 1e30))


@pytest.mark.parametrize("combine", ["distance", "vote"])
def test_positions_on_several_threads_give_the_same_model_and_scores(combine):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16).reshape(-1, 1, 8, 8)
    one = LocalReceptiveFieldClassifier(4, 2, 100, combine=combine, random_state=0).fit(X, y)
    two = LocalReceptiveFieldClassifier(4, 2, 100, combine=combine, random_state=0, n_jobs=2).fit(X, y)
    for a, b in zip(one.banks_, two.banks_):
        np.testing.assert_array_equal(a.memories, b.memories)
        np.testing.assert_array_equal(a.counters, b.counters)
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    np.testing.assert_array_equal(one.class_distances(X), two.class_distances(X))


def test_a_preset_configuration_names_what_differs_from_the_preset_today():
    from memorynet.models.presets import PRESETS, configuration, configuration_name

    today = configuration("cifar10-rf")
    assert today["preprocessing"] == PRESETS["cifar10-rf"][0] and "n_jobs" not in today
    assert today["max_neurons"] == PRESETS["cifar10-rf"][2]["max_neurons"]
    assert configuration_name("cifar10-rf", today) == "cifar10-rf"
    bigger = configuration("cifar10-rf", {"max_neurons": 4096})
    assert configuration_name("cifar10-rf", bigger) == "cifar10-rf (max_neurons=4096)"
    assert configuration_name("paper", {**configuration("paper"), "preprocessing": "dog"}) == \
        "paper (preprocessing=dog)"
    with pytest.raises(ValueError, match="unknown preset 'nope'; choose one of paper"):
        configuration("nope")


@pytest.mark.parametrize("name", [name for name, (_, cls, _) in PRESETS.items() if cls is SideBySideClassifier])
def test_a_side_by_side_presets_member_alone(name):
    """preset(member=kind): that member's estimator alone on the preset's preprocessing, with the pair's n_jobs."""
    chain, _, params = PRESETS[name]
    for kind, member_params in params["members"]:
        alone = preset(name, random_state=4, member=kind, max_neurons=40)
        assert alone[0].chain == chain and type(alone[-1]) is MEMBER_KINDS[kind]
        assert alone[-1].get_params() == MEMBER_KINDS[kind](**{**member_params, "n_jobs": params["n_jobs"],
                                                                "random_state": 4, "max_neurons": 40}).get_params()
    with pytest.raises(ValueError, match=f"preset {name!r} has no 'paper' member; its members are"):
        preset(name, member="paper")
    with pytest.raises(ValueError, match="only side-by-side presets have members"):
        preset("mnist-rf", member="codes")
