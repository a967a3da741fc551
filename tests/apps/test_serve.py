"""The web API of ``memorynet serve``: every endpoint, bad input, lessons, undo, saving, concurrent lessons."""

from __future__ import annotations

import base64
import io
import struct
import threading
import warnings
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient

from memorynet import datasets, load_model
from memorynet.apps.serve import LiveModel, create_app, run
from memorynet.models import presets


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def _live(digits, tmp_path, name="paper", **overrides):
    model = presets.preset(name, random_state=0, pixel_max=digits.pixel_max, **overrides)
    model.fit(digits.X_train, digits.y_train)
    return LiveModel(model, tmp_path / "model.mnet", list(digits.class_names), {"dataset": "digits", "pixel_max": 16})


@pytest.fixture
def paper(digits, tmp_path):
    return _live(digits, tmp_path, max_neurons=300)


@pytest.fixture
def client(paper):
    return TestClient(create_app(paper))


def _pixels(digits, i: int) -> list[float]:
    """A test image as the page sends it: intensities 0-255."""
    return (digits.X_test[i].ravel().astype(float) * (255 / digits.pixel_max)).tolist()


def _png(image: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image.astype(np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _png_header(width: int, height: int) -> str:
    """A PNG signature and header declaring a size, with no image data behind it."""
    body = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + body + struct.pack(">I", zlib.crc32(body))
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + chunk).decode()


def test_model_info_names_classes_budget_and_sizes(client, paper):
    info = client.get("/api/model").json()
    assert info["estimator"] == "MemoryNetworkClassifier" and info["image_shape"] == [1, 8, 8]
    assert info["budget_per_bank"] == 300 and info["neurons"] == paper.estimator.n_neurons_
    assert [c["name"] for c in info["classes"]] == [str(d) for d in range(10)]
    assert sum(c["neurons"] for c in info["classes"]) == info["neurons"]
    assert info["lessons"] == 0 and not info["can_undo"]


def test_memory_pages_are_sorted_filtered_and_drawn(client, paper):
    counters = paper.estimator.counters_
    page = client.get("/api/memory", params={"limit": 7}).json()
    assert page["total"] == len(counters) and len(page["neurons"]) == 7 and page["shape"] == [1, 8, 8]
    assert [n["counter"] for n in page["neurons"]] == sorted(counters, reverse=True)[:7]
    assert all(len(n["pixels"]) == 64 and 0 <= min(n["pixels"]) <= max(n["pixels"]) <= 255 for n in page["neurons"])
    threes = client.get("/api/memory", params={"label": 3, "sort": "counter", "limit": 500}).json()
    assert {n["name"] for n in threes["neurons"]} == {"3"}
    assert threes["total"] == int((paper.estimator.labels_ == 3).sum())
    assert [n["counter"] for n in threes["neurons"]] == sorted(n["counter"] for n in threes["neurons"])
    second = client.get("/api/memory", params={"sort": "row", "offset": 5, "limit": 5}).json()
    assert [n["row"] for n in second["neurons"]] == list(range(5, 10))


@pytest.mark.parametrize("query, message", [({"sort": "size"}, "sort must be one of"),
                                            ({"position": 3}, "position 3 out of range"),
                                            ({"label": 10}, "class index 10 out of range"),
                                            ({"limit": 0}, "limit"), ({"offset": "x"}, "offset")])
def test_memory_refuses_bad_queries_with_a_json_error(client, query, message):
    response = client.get("/api/memory", params=query)
    assert 400 <= response.status_code < 500 and message in response.json()["error"]


def test_prediction_distances_and_nearest_neurons_agree_with_the_model(client, paper, digits):
    for i in range(5):
        answer = client.post("/api/predict", json={"pixels": _pixels(digits, i)}).json()
        image = digits.X_test[i:i + 1]
        features = paper.model[:-1].transform(image)
        assert answer["prediction"]["name"] == str(paper.model.predict(image)[0])
        expected = paper.estimator.class_distances(features)[0]
        assert answer["evidence"] == {"name": "distance to the nearest neuron", "larger_is_better": False}
        np.testing.assert_allclose([c["evidence"] for c in answer["classes"]], expected, rtol=1e-5)
        distances = [n["distance"] for n in answer["nearest"]]
        assert len(distances) == 5 and distances == sorted(distances)
        assert answer["nearest"][0]["name"] == answer["prediction"]["name"]  # 1-NN: the nearest neuron decides
        np.testing.assert_allclose(distances[0], expected.min(), rtol=1e-5)


def test_a_png_upload_gives_the_same_answer_as_its_pixels(client, digits):
    image = np.round(digits.X_test[3, 0] * 255 / digits.pixel_max)
    by_png = client.post("/api/predict", json={"png": _png(image)}).json()
    by_pixels = client.post("/api/predict", json={"pixels": image.ravel().tolist()}).json()
    assert by_png["classes"] == by_pixels["classes"]
    larger = client.post("/api/predict", json={"png": _png(np.kron(image, np.ones((4, 4))))}).json()
    assert larger["prediction"] == by_pixels["prediction"]  # resized to the model's 8 x 8 before it is read


@pytest.mark.parametrize("body, message", [
    ({"pixels": [0.0] * 10}, "pixels holds 10 values; this model reads 1 x 8 x 8 images (64 values)"),
    ({"pixels": [300.0] * 64}, "between 0 and 255"),
    ({}, "exactly one of"),
    ({"pixels": [0.0] * 64, "png": "AAAA"}, "exactly one of"),
    ({"png": "not base64!"}, "base64"),
    ({"png": base64.b64encode(b"GIF89a....").decode()}, "does not hold a PNG"),
    ({"png": None, "pixels": "abc"}, "pixels"),
])
def test_bad_images_get_a_clear_json_error(client, body, message):
    response = client.post("/api/predict", json=body)
    assert 400 <= response.status_code < 500 and message in response.json()["error"]


def test_an_oversized_png_is_refused_from_its_header_before_decoding(client, monkeypatch):
    import PIL.Image

    monkeypatch.setattr(PIL.Image, "open", lambda *a, **k: pytest.fail("decoded an oversized image"))
    response = client.post("/api/predict", json={"png": _png_header(50000, 50000)})
    assert response.status_code == 400 and "50000 x 50000" in response.json()["error"]


def test_request_bodies_are_capped_and_malformed_json_is_refused(paper):
    client = TestClient(create_app(paper, max_body_bytes=10_000))
    response = client.post("/api/predict", content=b"[" * 20_000, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "over 10000 bytes" in response.json()["error"]

    def chunks():  # no content-length: the cap applies while the body streams in
        for _ in range(20):
            yield b" " * 1000
    response = client.post("/api/predict", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    response = client.post("/api/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "error" in response.json()


def test_teaching_a_known_class_moves_or_grows_one_neuron(client, paper, digits):
    est = paper.estimator
    seen, neurons = est.n_samples_seen_, est.n_neurons_
    largest = int(np.argmax(np.bincount(est.banks_[0].classes)))  # above its share of the budget: no growth
    lesson = client.post("/api/teach", json={"pixels": _pixels(digits, 0), "label": str(largest)}).json()
    assert lesson["class"] == {"index": largest, "name": str(largest), "new": False}
    assert est.n_samples_seen_ == seen + 1 and est.n_neurons_ == neurons  # full memory: a neuron moved
    assert lesson["banks_moved"] == 1 and not lesson["neuron"]["grew"] and lesson["neuron"]["shift"] > 0
    row = lesson["neuron"]["row"]
    x = paper.model[:-1].transform(digits.X_test[:1]).ravel()
    c = est.counters_[row]  # the running mean moved it by (x - r_new) / c_old
    np.testing.assert_allclose(lesson["neuron"]["shift"], np.linalg.norm(x - est.memories_[row].ravel()) / (c - 1),
                               rtol=1e-4)
    assert client.get("/api/model").json()["can_undo"]


def test_a_new_class_from_five_examples_is_predicted_and_undo_is_one_level(client, digits):
    nines = np.flatnonzero(digits.y_test == 9)[:5]
    for i in nines:
        lesson = client.post("/api/teach", json={"pixels": _pixels(digits, i), "label": "nine"}).json()
        assert lesson["class"]["name"] == "nine" and lesson["neuron"]["grew"]  # below its share: it grows
    info = client.get("/api/model").json()
    assert info["classes"][-1] == {"index": 10, "label": 10, "name": "nine", "neurons": 5}
    assert info["neurons"] == 300 and info["lessons"] == 5  # the budget holds: room came from merges
    assert client.post("/api/predict", json={"pixels": _pixels(digits, nines[0])}).json()["prediction"]["name"] \
        == "nine"
    assert client.post("/api/undo").status_code == 200
    assert client.get("/api/model").json()["classes"][-1]["neurons"] == 4
    response = client.post("/api/undo")  # one level: the lesson before is kept
    assert response.status_code == 400 and "no lesson to undo" in response.json()["error"]


def test_undo_puts_back_every_array_and_class_name(paper, digits):
    est = paper.estimator
    before = est.banks_[0].to_arrays()
    image = digits.X_test[:1]  # LiveModel takes the model's intensities (the API rescales 0-255 to them)
    paper.teach(image, "spiral")
    assert "spiral" in paper.class_names and paper.estimator.classes_.tolist()[-1] == 10
    paper.undo()
    after = paper.estimator.banks_[0].to_arrays()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])
    assert paper.class_names == [str(d) for d in range(10)] and paper.estimator.classes_.tolist() == list(range(10))


def test_a_failed_lesson_leaves_the_model_as_it_was(paper, digits):
    before = paper.estimator.banks_[0].to_arrays()
    with pytest.raises(ValueError, match="1 to 40 characters"):
        paper.teach(digits.X_test[:1], "   ")
    with pytest.raises(ValueError):
        paper.teach(np.full((1, 1, 8, 8), np.nan), "nan-class")
    assert paper.class_names == [str(d) for d in range(10)] and paper.lessons == 0
    np.testing.assert_array_equal(paper.estimator.banks_[0].to_arrays()["memories"], before["memories"])


def test_concurrent_lessons_are_applied_one_at_a_time(client, paper, digits):
    est = paper.estimator
    seen = est.n_samples_seen_
    errors = []

    def teacher(t):
        for i in range(5):
            response = client.post("/api/teach", json={"pixels": _pixels(digits, 5 * t + i),
                                                       "label": "new" if t % 2 else str(digits.y_test[5 * t + i])})
            if response.status_code != 200:
                errors.append(response.json())
    threads = [threading.Thread(target=teacher, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    est = paper.estimator
    assert est.n_samples_seen_ == seen + 40 and paper.lessons == 40
    assert paper.class_names.count("new") == 1  # the new class was created once, not once per page
    bank = est.banks_[0]
    bank.validate(len(est.classes_))
    assert bank.counters.sum() == est.n_samples_seen_  # every input absorbed exactly once: no lost update


def test_save_writes_a_new_file_unless_overwrite_is_asked_and_never_a_request_path(client, paper, digits, tmp_path):
    client.post("/api/teach", json={"pixels": _pixels(digits, 0), "label": "nine"})
    first = client.post("/api/save", json={}).json()
    assert first == {"file": "model.mnet", "overwritten": False}
    stamp = (tmp_path / "model.mnet").stat().st_mtime_ns
    second = client.post("/api/save", json={"path": str(tmp_path / "elsewhere.mnet")}).json()
    assert second == {"file": "model-1.mnet", "overwritten": False}
    assert (tmp_path / "model.mnet").stat().st_mtime_ns == stamp and not (tmp_path / "elsewhere.mnet").exists()
    assert client.post("/api/save", json={"overwrite": True}).json() == {"file": "model.mnet", "overwritten": True}
    model, meta = load_model(tmp_path / "model-1.mnet")
    assert meta["class_names"][-1] == "nine" and model[-1].classes_.tolist() == list(range(11))
    np.testing.assert_array_equal(model.predict(digits.X_test), paper.model.predict(digits.X_test))
    download = client.get("/api/download")
    assert download.headers["content-disposition"] == 'attachment; filename="model.mnet"'
    assert download.content[:2] == b"PK"


def test_the_page_its_scripts_and_the_openapi_description_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="canvas"' in page.text and "http" not in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "fetch(" in script.text and "//cdn" not in script.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/model", "/api/memory", "/api/predict", "/api/teach", "/api/undo", "/api/save",
            "/api/download"} <= set(paths)
    for path in ("/static/../live.py", "/static/images.py", "/nothing"):
        response = client.get(path)
        assert response.status_code == 404 and response.json() == {"error": "Not Found"}
    assert client.get("/api/teach").status_code == 405 and "error" in client.get("/api/teach").json()


def test_receptive_field_models_show_each_position_and_learn_at_every_one(digits, tmp_path):
    live = _live(digits, tmp_path, "mnist-rf", patch_size=4, stride=2, max_neurons=60)
    client = TestClient(create_app(live))
    info = client.get("/api/model").json()
    assert info["banks"] == 9 and info["bank_shape"] == [1, 4, 4] and len(info["corners"]) == 9
    page = client.get("/api/memory", params={"position": 0, "limit": 3}).json()
    assert page["corner"] == [0, 0] and len(page["neurons"][0]["pixels"]) == 16
    answer = client.post("/api/predict", json={"pixels": _pixels(digits, 0), "position": 8}).json()
    assert answer["position"] == 8
    assert answer["prediction"]["name"] == str(live.model.predict(digits.X_test[:1])[0])
    lesson = client.post("/api/teach", json={"pixels": _pixels(digits, 0), "label": "circle"}).json()
    assert lesson["banks_grew"] == 9 and lesson["class"]["new"]
    for bank in live.estimator.banks_:
        assert len(bank) == 60 and bank.counters.sum() == live.estimator.n_samples_seen_


def test_colour_models_take_rgb_pixels_and_grey_drawings(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (60, 3, 6, 6)).astype(np.float64), np.repeat(np.arange(3), 20)
    model = presets.preset("cifar10-rf", random_state=0, patch_size=3, stride=3, max_neurons=30).fit(X, y)
    client = TestClient(create_app(LiveModel(model, tmp_path / "c.mnet")))
    rgb = client.post("/api/predict", json={"pixels": X[0].ravel().tolist()}).json()
    assert rgb["prediction"]["name"] == str(model.predict(X[:1])[0])
    assert len(rgb["nearest"][0]["pixels"]) == 3 * 3 * 3
    grey = client.post("/api/predict", json={"pixels": X[0, 0].ravel().tolist()})
    assert grey.status_code == 200


def test_serving_beyond_this_machine_warns(paper, monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(paper)  # 127.0.0.1: no warning
    with pytest.warns(UserWarning, match="anyone who can reach this machine"):
        run(paper, host="0.0.0.0", port=9000)
    assert calls == [{"host": "127.0.0.1", "port": 8000, "log_level": "warning"},
                     {"host": "0.0.0.0", "port": 9000, "log_level": "warning"}]


def test_the_serve_command_loads_a_model_and_refuses_no_model(paper, tmp_path, monkeypatch, capsys):
    from memorynet.apps import cli, serve

    path = paper.save()["file"]
    served = []
    monkeypatch.setattr(serve, "run", lambda live, host, port: served.append((live, host, port)))
    assert cli.main(["serve", "--model", str(tmp_path / path), "--port", "8123"]) == 0
    live, host, port = served[0]
    assert (host, port) == ("127.0.0.1", 8123) and live.class_names == [str(d) for d in range(10)]
    assert cli.main(["serve"]) == 2
    assert "give --model FILE" in capsys.readouterr().err
    # --member picks a preset's member to train: with a saved model alone it is refused, not ignored
    assert cli.main(["serve", "--model", str(tmp_path / path), "--member", "codes"]) == 2
    assert "--member picks the member of a side-by-side preset" in capsys.readouterr().err and len(served) == 1


def test_the_serve_command_can_train_a_preset_first(tmp_path, monkeypatch):
    from memorynet.apps import cli, serve

    served = []
    monkeypatch.setattr(serve, "run", lambda live, host, port: served.append(live))
    target = tmp_path / "digits.mnet"
    assert cli.main(["serve", "--preset", "paper", "--dataset", "digits", "--model", str(target), "--no-progress"]) == 0
    live = served[0]
    assert live.path == target and not target.exists()  # nothing is written until Save
    assert live.estimator.n_samples_seen_ > 0 and live.class_names == [str(d) for d in range(10)]
    assert live.save()["file"] == "digits.mnet" and load_model(target)[1]["dataset"] == "digits"
    # a side-by-side preset: refused whole (the page shows one memory model), served member by member
    assert cli.main(["serve", "--preset", "cifar10-best", "--dataset", "digits", "--no-progress"]) == 2
    assert cli.main(["serve", "--preset", "cifar10-best", "--member", "codes", "--dataset", "digits",
                     "--model", str(tmp_path / "codes.mnet"), "--no-progress"]) == 0
    assert type(served[-1].estimator).__name__ == "PrototypeCodeClassifier" and len(served) == 2


def _codes_live(digits, tmp_path, classes=range(10)):
    """A prototype-code model (feature stage and readout) on the digits of ``classes``, served."""
    from sklearn.pipeline import Pipeline

    from memorynet import ImagePreprocessor, PrototypeCodeClassifier

    keep = np.isin(digits.y_train, list(classes))
    model = Pipeline([("preprocess", ImagePreprocessor("standardize", pixel_max=digits.pixel_max)),
                      ("network", PrototypeCodeClassifier(4, 2, 16, warmup=300, whiten_images=200, batch_size=100,
                                                          random_state=0))])
    model.fit(digits.X_train[keep], digits.y_train[keep])
    return LiveModel(model, tmp_path / "codes.mnet", [str(c) for c in classes])


def test_a_feature_stage_and_readout_is_served_through_the_same_api(digits, tmp_path):
    live = _codes_live(digits, tmp_path)
    client = TestClient(create_app(live))
    info = client.get("/api/model").json()
    assert info["labelled"] is False and info["estimator"] == "PrototypeCodeClassifier"
    assert [c["images"] for c in info["classes"]] == live.estimator.class_sizes()[0].tolist()
    page = client.get("/api/memory?limit=500").json()
    assert page["total"] == 16 and {n["name"] for n in page["neurons"]} == {"prototype"}
    assert "carry no labels" in client.get("/api/memory?label=0").json()["error"]
    for i in range(5):
        answer = client.post("/api/predict", json={"pixels": _pixels(digits, i)}).json()
        features = live.model[:-1].transform(digits.X_test[i:i + 1])
        assert answer["prediction"]["name"] == str(live.model.predict(digits.X_test[i:i + 1])[0])
        assert answer["evidence"] == {"name": "linear discriminant", "larger_is_better": True}
        np.testing.assert_allclose([c["evidence"] for c in answer["classes"]],
                                   live.estimator.decision_function(features)[0], rtol=1e-5)
        assert len(answer["nearest"]) == 5 and answer["nearest"][0]["name"] == "prototype"


def test_five_lessons_teach_a_readout_a_new_class_and_undo_restores_it(digits, tmp_path):
    live = _codes_live(digits, tmp_path, classes=range(9))
    client = TestClient(create_app(live))
    nines = np.flatnonzero(digits.y_test == 9)
    before = live.estimator.class_sizes()[0].copy()
    for i, row in enumerate(nines[:5]):
        lesson = client.post("/api/teach", json={"pixels": _pixels(digits, row), "label": "nine"}).json()
        assert lesson["class"]["new"] == (i == 0) and lesson["images"] == i + 1 and lesson["neuron"] is None
    assert live.class_names[-1] == "nine" and live.estimator.class_sizes()[0][:9].tolist() == before.tolist()
    held_out = [client.post("/api/predict", json={"pixels": _pixels(digits, r)}).json()["prediction"]["name"]
                for r in nines[5:25]]
    assert held_out.count("nine") >= 10  # five drawings taught the class: most other nines are recognised
    client.post("/api/undo", json={})
    assert live.estimator.class_sizes()[0][-1] == 4 and live.lessons == 4


def test_saving_where_nothing_can_be_written_is_a_json_error(digits, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    live = _live(digits, tmp_path, max_neurons=100)
    live.path = blocker / "model.mnet"  # its folder is a file: the write fails
    response = TestClient(create_app(live), raise_server_exceptions=False).post("/api/save", json={})
    assert response.status_code == 500 and response.headers["content-type"] == "application/json"
    assert "could not do that" in response.json()["error"] and "a-file" in response.json()["error"]
    assert blocker.read_text() == "not a folder"


def test_serve_checks_its_options_before_it_starts():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "memorynet", "serve", "--preset", "paper", "--dataset", "digits",
                          "--port", "70000"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--port must be between 1 and 65535" in out.stderr
