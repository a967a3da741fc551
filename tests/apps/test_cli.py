"""End-to-end command-line tests, run as a user would: a subprocess."""

import json
import subprocess
import sys

import pytest


def memorynet(*args, env=None):
    return subprocess.run([sys.executable, "-m", "memorynet", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_help_lists_every_command():
    out = memorynet("--help")
    assert out.returncode == 0
    for command in ["train", "evaluate", "predict", "stream", "reproduce"]:  # each one's --help: tests/test_site.py
        assert command in out.stdout
    sub = memorynet("train", "--help")
    assert sub.returncode == 0 and "--data-dir" in sub.stdout


def test_train_on_digits_works_with_no_data(tmp_path):
    out = memorynet("train", "--no-progress", "--max-neurons", "500", "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    assert "accuracy" in out.stdout and "neurons   500 of 500" in out.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["dataset"] == "digits" and result["accuracy"] > 0.9
    assert result["params"]["max_neurons"] == 500 and "version" in result


@pytest.mark.parametrize("args, message", [
    (["--dataset", "imagenet"], "invalid choice"),
    (["--dataset", "mnist", "--data-dir", "/nonexistent/x"], "does not exist"),
    (["--max-neurons", "0"], "'max_neurons' parameter"),
    (["--max-neurons", "5"], "smaller than the number of classes"),
    (["--threshold", "-1"], "must be a distance (a number >= 0), 'quantile:q'"),
    (["--threshold", "quantile:2"], "must be a distance (a number >= 0), 'quantile:q'"),
])
def test_errors_are_one_line_without_traceback(args, message):
    out = memorynet("train", "--no-progress", *args)
    assert out.returncode != 0
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 3  # argparse adds its usage line


def test_train_on_mnist_reaches_95_percent(data_dir, tmp_path):
    out = memorynet("train", "--dataset", "mnist", "--max-neurons", "1000", "--data-dir", str(data_dir),
                    "--no-progress", "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "r.json").read_text())["accuracy"] >= 0.95


def test_save_evaluate_predict(tmp_path):
    import numpy as np

    from memorynet import datasets

    model = tmp_path / "digits.mnet"
    assert memorynet("train", "--no-progress", "--max-neurons", "300", "--save", str(model)).returncode == 0
    out = memorynet("evaluate", "--model", str(model), "--no-progress")
    assert out.returncode == 0 and "accuracy  0.9" in out.stdout
    images = datasets.load("digits").X_test[:4]
    np.save(tmp_path / "four.npy", images)
    np.save(tmp_path / "one.npy", images[0])
    out = memorynet("predict", "--model", str(model), str(tmp_path / "four.npy"), str(tmp_path / "one.npy"))
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.strip().splitlines()) == 5


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"junk"), "truncated or corrupted"),
    (lambda p: None, "does not exist"),
])
def test_bad_model_files_give_one_line(tmp_path, make, message):
    path = tmp_path / "m.mnet"
    make(path)
    out = memorynet("evaluate", "--model", str(path))
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_predict_refuses_wrong_inputs(tmp_path):
    import numpy as np

    model = tmp_path / "m.mnet"
    memorynet("train", "--no-progress", "--max-neurons", "100", "--save", str(model))
    np.save(tmp_path / "big.npy", np.zeros((2, 1, 9, 9)))
    (tmp_path / "x.txt").write_text("hi")
    for path, message in ((tmp_path / "big.npy", "features"), (tmp_path / "x.txt", ".npy")):
        out = memorynet("predict", "--model", str(model), str(path))
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_commands_write_only_where_told(tmp_path):
    import os

    home, work, cache = tmp_path / "home", tmp_path / "work", tmp_path / "cache"
    for folder in (home, work, cache):
        folder.mkdir()
    env = {**os.environ, "HOME": str(home), "MEMORYNET_CACHE": str(cache), "XDG_CACHE_HOME": str(home / "xdg")}
    model = tmp_path / "out" / "m.mnet"
    model.parent.mkdir()
    result = subprocess.run([sys.executable, "-m", "memorynet", "train", "--no-progress", "--save", str(model),
                             "--json", str(tmp_path / "out" / "r.json")], cwd=work, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert list(home.iterdir()) == [] and list(work.iterdir()) == []
    assert sorted(p.name for p in model.parent.iterdir()) == ["m.mnet", "r.json"]


def test_every_preset_trains_saves_and_predicts_from_the_command_line(tmp_path):
    import numpy as np

    from memorynet import datasets

    model = tmp_path / "best.mnet"
    out = memorynet("train", "--no-progress", "--preset", "mnist-rf", "--dataset", "digits", "--max-neurons", "200",
                    "--patch-size", "6", "--stride", "2", "--save", str(model))
    assert out.returncode == 0, out.stderr
    assert "preprocessing dog+standardize" in out.stdout and "neurons   800 of 800" in out.stdout  # 4 positions
    np.save(tmp_path / "one.npy", datasets.load("digits").X_test[0])
    out = memorynet("predict", "--model", str(model), str(tmp_path / "one.npy"))
    assert out.returncode == 0 and len(out.stdout.strip().splitlines()) == 1, out.stderr
    out = memorynet("evaluate", "--model", str(model), "--no-progress")
    assert out.returncode == 0 and "accuracy  0.9" in out.stdout, out.stdout
    codes = tmp_path / "codes.mnet"  # the prototype-code model (a member of a preset), scaled down to 8 x 8 digits
    out = memorynet("train", "--no-progress", "--preset", "cifar10-best", "--member", "codes", "--dataset", "digits",
                    "--preprocessing", "standardize",
                    "--max-neurons", "16", "--patch-size", "4", "--stride", "2", "--warmup", "300",
                    "--whiten-images", "100", "--whiten-eps", "0.5", "--save", str(codes))
    assert out.returncode == 0 and "accuracy  0.9" in out.stdout, out.stdout + out.stderr
    assert "prototypes 144 of 144" in out.stdout  # 9 positions
    out = memorynet("evaluate", "--model", str(codes), "--no-progress")
    assert out.returncode == 0 and "accuracy  0.9" in out.stdout, out.stdout


@pytest.mark.parametrize("args, message", [
    (["--preset", "mnist-rf", "--dataset", "digits", "--channel-voting"], "has no --channel-voting"),
    (["--preset", "cifar10-best", "--member", "codes", "--dataset", "digits", "--combine", "vote"],
     "PrototypeCodeClassifier, which has no --combine"),
    (["--preset", "cifar10-best", "--member", "paper", "--dataset", "digits"],
     "has no 'paper' member; its members are codes, receptive-fields"),
    (["--preset", "mnist-rf", "--member", "codes", "--dataset", "digits"], "only side-by-side presets have members"),
    (["--patch-size", "4"], "has no --patch-size"),
    (["--preset", "cifar10-rf", "--dataset", "digits"], "3 (RGB) channels"),
    (["--preset", "cifar10-rf", "--data-dir", "/nonexistent/x"], "does not exist"),  # the data set it is named for
    (["--data", "/nonexistent/folder"], "/nonexistent/folder does not exist"),
    (["--data", "x.npz", "--dataset", "mnist"], "not both"),
    (["--preprocessing", "rot13"], "unknown preprocessing"),
])
def test_options_that_do_not_fit_the_preset_are_one_line_errors(args, message):
    out = memorynet("train", "--no-progress", *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("metadata, message", [
    ({"class_names": ["a", "b"]}, "class_names must be 10 strings"),
    ({"class_names": list(range(10))}, "class_names must be 10 strings"),
    ({"dataset": 7}, "unknown data set 7"),
    ({"preprocessing": 3}, "preprocessing must be a string"),
    ({"pixel_max": "high"}, "pixel_max must be a positive number"),
])
def test_edited_metadata_of_a_version_1_file_is_one_line(tmp_path, metadata, message):
    from references import write_version_1

    from memorynet import MemoryNetworkClassifier, datasets

    digits = datasets.load("digits")
    model = MemoryNetworkClassifier(50, random_state=0).fit(digits.X_train / 16.0, digits.y_train)
    path = write_version_1(model, tmp_path / "v1.mnet")
    import json

    import numpy as np
    with np.load(path) as npz:
        members = {k: npz[k] for k in npz.files}
    header = json.loads(members["header"].tobytes())
    header["metadata"] = {"preprocessing": "scale", "pixel_max": 16.0, **metadata}
    members["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)  # version 1: the header is unsigned
    with open(path, "wb") as fh:
        np.savez(fh, **members)
    out = memorynet("evaluate", "--model", str(path), "--no-progress")
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("train", [
    ["--max-neurons", "200"],
    ["--preset", "mnist-rf", "--dataset", "digits", "--max-neurons", "200", "--patch-size", "4"],
    ["--preset", "cifar10-best", "--member", "codes", "--dataset", "digits", "--preprocessing", "standardize",
     "--max-neurons", "16", "--patch-size", "4", "--stride", "2", "--warmup", "300", "--whiten-images", "100"],
], ids=["paper", "receptive-fields", "prototype-codes"])
def test_show_draws_every_kind_of_model(tmp_path, train):
    trained = memorynet("train", "--no-progress", *train, "--save", str(tmp_path / "m.mnet"))
    assert trained.returncode == 0, trained.stderr
    out = memorynet("show", "--model", str(tmp_path / "m.mnet"), "--out", str(tmp_path / "fig"))
    assert out.returncode == 0, out.stderr
    for name in ("memories.png", "classes.png", "confusion.png", "nearest.png"):
        assert (tmp_path / "fig" / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("make, args, message", [
    (lambda d: __import__("numpy").save(d / "empty.npy", __import__("numpy").zeros((0, 1, 8, 8))),
     ["predict", "--model", "{model}", "{d}/empty.npy"], "empty.npy: an empty array (0, 1, 8, 8)"),
    (lambda d: (d / "folder").mkdir(), ["evaluate", "--model", "{d}/folder"], "folder is a folder, not a model file"),
    (lambda d: (d / "folder").mkdir(), ["predict", "--model", "{model}", "{d}/folder"], "folder or glob with no image"),
    (lambda d: __import__("PIL.Image").Image.new("P", (8, 8), 3).save(d / "palette.png"),
     ["predict", "--model", "{model}", "{d}/palette.png"], None),  # a palette PNG is an image like any other
])
def test_unclear_inputs_get_one_line_that_names_them(tmp_path, make, args, message):
    model = tmp_path / "m.mnet"
    assert memorynet("train", "--no-progress", "--max-neurons", "100", "--save", str(model)).returncode == 0
    make(tmp_path)
    out = memorynet(*[a.format(model=model, d=tmp_path) for a in args])
    if message is None:
        assert out.returncode == 0 and out.stdout.startswith(str(tmp_path / "palette.png")), out.stderr
        return
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_show_draws_each_member_of_a_side_by_side_model_and_serve_refuses_it(tmp_path):
    from sklearn.datasets import load_digits
    from sklearn.pipeline import Pipeline

    from memorynet import ImagePreprocessor, SideBySideClassifier, save_model

    X, y = load_digits(return_X_y=True)
    pair = SideBySideClassifier([("receptive-fields", {"patch_size": 4, "stride": 2, "max_neurons": 200}),
                                 ("codes", {"patch_size": 4, "stride": 2, "max_neurons": 16, "warmup": 300,
                                            "whiten_images": 100})], random_state=0)
    model = Pipeline([("preprocess", ImagePreprocessor("scale", 16.0)), ("network", pair)])
    path = save_model(model.fit(X.reshape(-1, 1, 8, 8), y), tmp_path / "pair.mnet", {"dataset": "digits"})
    for member in ("0", "1"):
        out = memorynet("show", "--model", str(path), "--member", member, "--out", str(tmp_path / member))
        assert out.returncode == 0, out.stderr
        assert (tmp_path / member / "memories.png").read_bytes()[:4] == b"\x89PNG"
    out = memorynet("show", "--model", str(path), "--member", "2", "--out", str(tmp_path / "2"))
    assert out.returncode == 2 and "--member must be 0..1" in out.stderr, out.stderr
    out = memorynet("serve", "--model", str(path))
    assert out.returncode == 2 and "is a side-by-side model" in out.stderr and "--member" in out.stderr, out.stderr
