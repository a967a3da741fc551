"""The guide page "Extending memorynet": its code runs, and the rule and searcher it plugs in are the ones used."""

import re
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from memorynet import LocalReceptiveFieldClassifier, MemoryNetworkClassifier, PrototypeCodeClassifier, save_model
from memorynet.engine.rule import LearningRule

PAGE = Path(__file__).resolve().parents[2] / "docs" / "guide" / "extending.md"


@pytest.fixture(scope="module")
def page() -> dict:
    """The namespace left by the page's Python blocks, run in order."""
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S):
        exec(compile(block, str(PAGE), "exec"), namespace)
    return namespace


def test_the_rule_of_the_page_is_the_one_that_learns(page):
    fixed, default = page["fixed_rate"], page["running_mean"]
    assert fixed.n_neurons_ == default.n_neurons_ == 100
    assert fixed.counters_.sum() == default.counters_.sum() == len(page["y_train"])
    assert not np.allclose(fixed.memories_, default.memories_)  # another rule made other memories
    # the same first 100 inputs grew the same neurons; the fixed rate then keeps them nearer to recent inputs
    assert fixed.score(page["X_test"], page["y_test"]) > 0.85
    assert abs(fixed.score(page["X_test"], page["y_test"]) - default.score(page["X_test"], page["y_test"])) < 0.08


def test_the_searcher_of_the_page_did_every_search(page):
    made = page["made"]
    assert len(made) == 1 and made[0].macs > len(page["X_test"]) * 100 * page["X_test"].shape[1]


def test_a_rule_of_ones_own_reaches_every_bank_and_merges(page):
    rules = []

    def factory(n_labels):
        rules.append(page["FixedRateRule"](n_labels))
        return rules[-1]

    X, y = page["X_train"].reshape(-1, 1, 8, 8), page["y_train"]
    fields = LocalReceptiveFieldClassifier(4, 4, 30, learning_rule=factory, random_state=0).fit(X, y)
    assert len(rules) == 1 and rules[0].n_labels == 10 and len(fields.banks_) == 4
    codes = PrototypeCodeClassifier(4, 4, 8, whiten_images=0, warmup=200, learning_rule=factory,
                                    random_state=0).fit(X, y)
    assert rules[-1].n_labels == 1 and codes.score(page["X_test"].reshape(-1, 1, 8, 8), page["y_test"]) > 0.5
    half = len(y) // 2
    a = MemoryNetworkClassifier(60, learning_rule=factory, shuffle=False).partial_fit(X[:half], y[:half],
                                                                                       classes=np.arange(10))
    b = MemoryNetworkClassifier(60, learning_rule=factory, shuffle=False).partial_fit(X[half:], y[half:],
                                                                                       classes=np.arange(10))
    assert a.merge(b).counters_.sum() == len(y)


def test_a_model_with_a_python_rule_is_not_saved_silently(page, tmp_path):
    model = MemoryNetworkClassifier(100, learning_rule=partial(page["FixedRateRule"], rate=0.2)).fit(
        page["X_train"], page["y_train"])
    with pytest.raises(TypeError, match="learning_rule"):
        save_model(model, tmp_path / "m.mnet")
    assert not (tmp_path / "m.mnet").exists()


def test_a_rule_must_implement_learn_batch():
    with pytest.raises(NotImplementedError):
        MemoryNetworkClassifier(5, learning_rule=lambda n: LearningRule()).fit(np.eye(4), [0, 1, 0, 1])
