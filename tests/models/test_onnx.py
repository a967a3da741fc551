"""ONNX export: ONNX Runtime's labels and scores equal the package's for every estimator, setting and preset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import memorynet
from memorynet import (
    ImagePreprocessor,
    LocalReceptiveFieldClassifier,
    MemoryNetworkClassifier,
    PrototypeCodeClassifier,
    preset,
)
from memorynet.models.presets import adjust

ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need pip install 'memorynet[onnx]'")
pytest.importorskip("onnx", reason="ONNX export tests need pip install 'memorynet[onnx]'")


def _run(model, images: np.ndarray, **export) -> tuple[np.ndarray, np.ndarray, object]:
    """(labels, scores, proto) of the exported model in ONNX Runtime."""
    proto = memorynet.export_onnx(model, **export)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    label, scores = session.run(["label", "scores"], {"images": np.asarray(images, dtype=np.float32)})
    return label, scores, proto


def _agree(model, images, min_identical: float = 1.0, rtol: float = 1e-4) -> None:
    label, scores, _ = _run(model, images)
    predicted = model.predict(images)
    assert label.dtype.kind == predicted.dtype.kind or predicted.dtype.kind in "iu" and label.dtype == np.int64
    assert np.mean(label == predicted) >= min_identical
    np.testing.assert_allclose(scores, model.predict_proba(images), rtol=rtol, atol=1e-6)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X.reshape(-1, 1, 8, 8) * 255 / 16).round()
    return X[:1200], y[:1200], X[1200:], y[1200:]


@pytest.mark.parametrize("options", [
    {}, {"distance": "cosine"}, {"n_neighbors": 5}, {"n_neighbors": 4, "weights": "distance"},
])
def test_memory_network_settings(digits, options):
    X, y, X_test, _ = digits
    model = preset("paper", random_state=0, max_neurons=200, **options).fit(X, y)
    _agree(model, X_test)


def test_channel_voting_and_string_labels():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(300, 3, 6, 6)).astype(np.float32)
    y = np.array(["cat", "dog", "owl"])[rng.integers(0, 3, 300)]
    model = preset("paper", random_state=0, max_neurons=60, channel_voting=True, n_neighbors=3).fit(X, y)
    label, _, _ = _run(model, X[:100])
    assert label.dtype.kind in "OU" and list(label) == list(model.predict(X[:100]))


@pytest.mark.parametrize("chain", ["scale", "raw", "standardize", "grayscale", "lcn", "dog+standardize",
                                   "opponent+standardize", "lcn+dog", "deskew+dog+standardize"])
def test_every_preprocessing_step(chain):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, size=(200, 3, 12, 10)).astype(np.float32)
    y = rng.integers(0, 4, 200)
    model = Pipeline([("preprocess", ImagePreprocessor(chain)),
                      ("network", MemoryNetworkClassifier(80, random_state=0))]).fit(X, y)
    label, scores, proto = _run(model, X)
    assert np.mean(label == model.predict(X)) >= 0.99  # random images: many near-ties
    meta = {p.key: json.loads(p.value) for p in proto.metadata_props}
    assert meta["preprocessing"] == chain and meta["image_shape"][1:] == [12, 10]


@pytest.mark.parametrize("options", [{}, {"combine": "vote", "n_neighbors": 3}])
def test_receptive_fields(digits, options):
    X, y, X_test, _ = digits
    model = Pipeline([("preprocess", ImagePreprocessor("dog+standardize")),
                      ("network", LocalReceptiveFieldClassifier(4, 2, 100, random_state=0, **options))]).fit(X, y)
    _agree(model, X_test)


def test_prototype_codes_and_a_bare_estimator(digits):
    X, y, X_test, _ = digits
    model = PrototypeCodeClassifier(4, 2, 40, warmup=400, whiten_images=200, random_state=0).fit(X / 255, y)
    _agree(model, X_test / 255)
    session = ort.InferenceSession(model.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"])
    label, _ = session.run(None, {"images": (X_test / 255).astype(np.float32)})
    assert np.array_equal(label, model.predict(X_test / 255))


def test_to_onnx_writes_the_file_atomically_with_metadata(digits, tmp_path):
    X, y, X_test, _ = digits
    model = MemoryNetworkClassifier(100, random_state=0).fit(X / 255, y)
    path = tmp_path / "m.onnx"
    proto = model.to_onnx(path, class_names=[f"digit {c}" for c in range(10)])
    assert path.read_bytes() == proto.SerializeToString()
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    meta = {p.key: json.loads(p.value) for p in proto.metadata_props}
    assert meta["classes"] == list(range(10)) and meta["class_names"][3] == "digit 3"
    assert meta["memorynet_version"] == memorynet.__version__ and meta["image_shape"] == [1, 8, 8]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["estimator"] == '"MemoryNetworkClassifier"'


def test_bad_input_to_the_exporter(digits, tmp_path):
    X, y, _, _ = digits
    with pytest.raises(NotFittedError):
        memorynet.export_onnx(MemoryNetworkClassifier(10))
    with pytest.raises(NotImplementedError, match="distance 'l1' has no ONNX form"):
        MemoryNetworkClassifier(50, distance="l1", random_state=0).fit(X[:100], y[:100]).to_onnx()
    with pytest.raises(ValueError, match="not StandardScaler"):
        memorynet.export_onnx(Pipeline([("s", StandardScaler()), ("m", MemoryNetworkClassifier(50))])
                              .fit(X[:100].reshape(100, -1), y[:100]))
    with pytest.raises(ValueError, match="memorynet estimator"):
        memorynet.export_onnx(StandardScaler())
    with pytest.raises(ValueError, match="3 class names for 10 classes"):
        MemoryNetworkClassifier(50, random_state=0).fit(X[:100], y[:100]).to_onnx(class_names=["a", "b", "c"])
    existing = tmp_path / "kept.onnx"
    existing.write_bytes(b"old")
    with pytest.raises(NotImplementedError):
        MemoryNetworkClassifier(50, distance="lp", p=3, random_state=0).fit(X[:100], y[:100]).to_onnx(existing)
    assert existing.read_bytes() == b"old"


def test_memories_too_large_for_one_file_go_to_a_data_file_beside_it(digits, tmp_path, monkeypatch, capsys):
    """Over the protobuf limit the tensors go to ``<file>.data`` (ONNX external data): same labels and scores."""
    from memorynet.apps import cli
    from memorynet.models import onnx_export

    X, y, X_test, _ = digits
    model = preset("mnist-rf", random_state=0, patch_size=4, stride=2, max_neurons=200).fit(X, y)
    whole = memorynet.export_onnx(model)
    held = sum(bank.memories.nbytes for bank in model[-1].banks_)
    monkeypatch.setattr(onnx_export, "PROTOBUF_LIMIT", held - 1)  # one byte short of the model's memories
    existing = tmp_path / "kept.onnx"
    existing.write_bytes(b"old")
    with pytest.raises(ValueError, match="more than one ONNX file can hold.*give a path"):
        memorynet.export_onnx(model)
    with pytest.raises(NotImplementedError):  # a failed export leaves both files as they were
        MemoryNetworkClassifier(50, distance="lp", p=3, random_state=0).fit(X[:100], y[:100]).to_onnx(existing)
    assert existing.read_bytes() == b"old" and not onnx_export.data_file(existing).exists()
    for _ in range(2):  # a second export replaces both files whole (the data file is not appended to)
        proto = memorynet.export_onnx(model, existing, class_names=[str(c) for c in range(10)])
        assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.onnx", "kept.onnx.data"]
    assert existing.stat().st_size < 100_000 < held < (tmp_path / "kept.onnx.data").stat().st_size
    assert existing.read_bytes() == proto.SerializeToString()
    assert len(proto.graph.initializer) == len(whole.graph.initializer) and proto.ByteSize() < whole.ByteSize() / 3
    session = ort.InferenceSession(str(existing), providers=["CPUExecutionProvider"])
    label, scores = session.run(["label", "scores"], {"images": X_test.astype(np.float32)})
    reference = ort.InferenceSession(whole.SerializeToString(), providers=["CPUExecutionProvider"])
    expected_label, expected_scores = reference.run(["label", "scores"], {"images": X_test.astype(np.float32)})
    assert np.array_equal(label, expected_label) and np.array_equal(scores, expected_scores)
    assert np.array_equal(label, model.predict(X_test))
    saved = tmp_path / "m.mnet"  # the command line says where the tensors went
    memorynet.save_model(model, saved)
    assert cli.main(["export", "--model", str(saved), "--onnx", str(tmp_path / "cli.onnx")]) == 0
    assert f"wrote {tmp_path / 'cli.onnx.data'}: its tensors" in capsys.readouterr().out
    assert (tmp_path / "cli.onnx.data").stat().st_size == (tmp_path / "kept.onnx.data").stat().st_size
    monkeypatch.setattr(onnx_export, "PROTOBUF_LIMIT", held)  # exactly the limit: one file again
    assert memorynet.export_onnx(model).ByteSize() == whole.ByteSize()


@pytest.mark.parametrize("name", ["paper", "mnist-rf", "mnist-best", "cifar10-rf", "cifar10-best"])
def test_every_preset_on_its_whole_test_set(name, mnist, cifar10):
    """Each preset (budgets cut to a tenth and to at most 6000 neurons per bank, fit on 6000 images) agrees with
    ONNX Runtime on the whole test set."""
    data = cifar10 if name.startswith("cifar10") else mnist
    model = preset(name, random_state=0, pixel_max=data.pixel_max)
    adjust(model[-1], lambda p: {"max_neurons": min(max(p["max_neurons"] // 10, 38), 6000),
                                 **({"warmup": 1000, "whiten_images": 500} if "warmup" in p else {})})
    model.fit(data.X_train[:6000], data.y_train[:6000])
    label, scores, _ = _run(model, data.X_test)  # at most 6000 neurons per bank: a few 240 MB matrices
    predicted = model.predict(data.X_test)
    identical = np.mean(label == predicted)
    assert identical >= 0.999, f"{name}: {identical:.4%} identical"
    assert abs(np.mean(label == data.y_test) - np.mean(predicted == data.y_test)) <= 1 - identical


def test_the_deploy_page_runs(tmp_path, monkeypatch):
    """The guide page "Deploy" runs as written, and its ONNX Runtime labels are the model's."""
    monkeypatch.chdir(tmp_path)
    page = Path(__file__).resolve().parents[2] / "docs" / "guide" / "deploy.md"
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S):
        exec(compile(block, str(page), "exec"), namespace)
    assert namespace["meta"]["classes"] == list(range(10)) and namespace["meta"]["image_shape"] == [1, 8, 8]
    assert np.array_equal(namespace["labels"], namespace["model"].predict(namespace["images"][1500:]))
    assert np.mean(namespace["labels"] == namespace["y"][1500:]) > 0.8


def test_the_command_line_exports_a_saved_model(tmp_path):
    """``memorynet export`` as a user runs it: the file predicts what ``memorynet predict`` prints."""
    import subprocess
    import sys

    from memorynet import datasets, load_model

    run = lambda *args: subprocess.run([sys.executable, "-m", "memorynet", *args], capture_output=True,  # noqa: E731
                                       text=True, timeout=600)
    saved, onnx_file = tmp_path / "digits.mnet", tmp_path / "digits.onnx"
    assert run("train", "--no-progress", "--max-neurons", "300", "--save", str(saved)).returncode == 0
    out = run("export", "--model", str(saved), "--onnx", str(onnx_file))
    assert out.returncode == 0, out.stderr
    assert "input 'images' ['N', 1, 8, 8]" in out.stdout
    images = datasets.load("digits").X_test
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    label, _ = session.run(None, {"images": images.astype(np.float32)})
    model, meta = load_model(saved)
    assert np.array_equal(label, model.predict(images))
    names = json.loads(session.get_modelmeta().custom_metadata_map["class_names"])
    assert names == [str(n) for n in meta["class_names"]]
    out = run("export", "--model", str(saved), "--onnx", str(tmp_path))
    assert out.returncode == 2 and "needs a file path" in out.stderr
