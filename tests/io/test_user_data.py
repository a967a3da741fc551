"""Data of one's own: image folders, arrays and tables in; predictions and reports out; bad data in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from memorynet import preset
from memorynet.io import datasets, user_data
from memorynet.io.inputs import UnreadableImage

pandas = pytest.importorskip("pandas", reason="tables need pip install 'memorynet[tables]'")


def memorynet(*args):
    return subprocess.run([sys.executable, "-m", "memorynet", *args], capture_output=True, text=True, timeout=600)


def write_folder(root, X, y, names, suffix=".png", **save):
    """Images (n, C, H, W) uint8 into root/<class name>/<index>.<suffix>, indices zero-padded (sorted order)."""
    for i, (image, label) in enumerate(zip(X, y)):
        folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        array = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        Image.fromarray(array).save(folder / f"{i:06d}{suffix}", **save)
    return root


def _class_order(y):
    return np.argsort(y, kind="stable")  # the order the folder is read in: class folder, then file name


@pytest.mark.parametrize("name, n_train, n_test, model", [
    ("mnist", 2000, 500, ["--max-neurons", "500"]),
    ("cifar10", 2000, 500, ["--preset", "cifar10-rf", "--max-neurons", "100"]),
])
def test_a_folder_of_pngs_trains_to_exactly_the_accuracy_of_the_arrays(data_dir, tmp_path, name, n_train, n_test,
                                                                        model):
    data = datasets.load(name, data_dir, progress=False)
    names = [f"{k}-{c}" for k, c in enumerate(data.class_names)]  # sorts as the class indices do
    train = write_folder(tmp_path / "train", data.X_train[:n_train], data.y_train[:n_train], names)
    test = write_folder(tmp_path / "test", data.X_test[:n_test], data.y_test[:n_test], names)
    out = memorynet("train", "--no-progress", "--data", str(train), "--test-data", str(test), *model,
                    "--json", str(tmp_path / "r.json"), "--save", str(tmp_path / "m.mnet"))
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    order = _class_order(data.y_train[:n_train])
    reference = preset(model[1] if model[0] == "--preset" else "paper", random_state=0, pixel_max=255.0,
                       max_neurons=int(model[-1]))
    reference.fit(data.X_train[:n_train][order], data.y_train[:n_train][order])
    test_order = _class_order(data.y_test[:n_test])
    expected = np.mean(reference.predict(data.X_test[:n_test][test_order]) == data.y_test[:n_test][test_order])
    assert result["accuracy"] == expected and result["n_train"] == n_train and result["n_test"] == n_test
    # the class names travel with the model into predictions
    out = memorynet("predict", "--model", str(tmp_path / "m.mnet"), str(test / names[3]), "--out",
                    str(tmp_path / "p.csv"))
    assert out.returncode == 0, out.stderr
    table = pandas.read_csv(tmp_path / "p.csv")
    assert set(table["class_name"]) <= set(names) and len(table) == np.sum(data.y_test[:n_test] == 3)


def test_jpeg_bmp_gif_tiff_and_palette_images_read_as_pillow_decodes_them(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (12, 3, 9, 7), dtype=np.uint8)
    y = np.arange(12) % 2
    for suffix in (".jpg", ".bmp", ".gif", ".tiff", ".png"):
        folder = write_folder(tmp_path / suffix[1:], X, y, ["a", "b"], suffix)
        data = user_data.read_labelled(folder, progress=False)
        first = next(p for p in sorted((folder / "a").iterdir()))
        with Image.open(first) as image:
            decoded = np.asarray(image.convert("RGB")).transpose(2, 0, 1)
        assert data.X.shape == (12, 3, 9, 7) and data.class_names == ("a", "b")
        np.testing.assert_array_equal(data.X[0], decoded)
        assert data.sources[0] == str(first) and list(data.y) == [0] * 6 + [1] * 6
    palette = Image.fromarray(X[0].transpose(1, 2, 0)).convert("P")  # a palette PNG becomes RGB, not indices
    palette.save(tmp_path / "palette.png")
    assert user_data.decode_image(tmp_path / "palette.png").shape == (3, 9, 7)
    assert user_data.decode_image(tmp_path / "palette.png", channels=1).shape == (1, 9, 7)


def test_arrays_and_tables_train_from_the_command_line(tmp_path):
    digits = datasets.load("digits")
    np.savez(tmp_path / "d.npz", images=digits.X_train, labels=digits.y_train)
    out = memorynet("train", "--no-progress", "--data", str(tmp_path / "d.npz"), "--npz-keys", "images", "labels",
                    "--max-neurons", "300", "--json", str(tmp_path / "a.json"))
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "a.json").read_text())["accuracy"] > 0.9
    np.save(tmp_path / "X.npy", digits.X_train)
    np.save(tmp_path / "y.npy", digits.y_train)
    out = memorynet("train", "--no-progress", "--data", str(tmp_path / "X.npy"), "--labels", str(tmp_path / "y.npy"),
                    "--max-neurons", "300")
    assert out.returncode == 0 and "accuracy  0.9" in out.stdout, out.stderr
    # a table of feature vectors, with labels that are text: no image in sight
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 6)) * 5
    rows = rng.integers(0, 3, 600)
    frame = pandas.DataFrame(centres[rows] + rng.normal(size=(600, 6)), columns=[f"f{i}" for i in range(6)])
    labels = np.array(['a "quoted", label', "tab\tlabel", "café"])
    frame["species"] = labels[rows]
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for table in ("t.csv", "t.parquet"):
        out = memorynet("train", "--no-progress", "--data", str(tmp_path / table), "--label-column", "species",
                        "--max-neurons", "60", "--json", str(tmp_path / "t.json"))
        assert out.returncode == 0, out.stderr
        assert json.loads((tmp_path / "t.json").read_text())["accuracy"] > 0.95
    data = user_data.read_labelled(tmp_path / "t.csv", label_column="species")
    assert data.class_names == tuple(sorted(labels)) and data.X.shape == (600, 1, 1, 6) and data.pixel_max is None


def test_predictions_out_as_csv_and_json_lines_keep_every_label(tmp_path):
    digits = datasets.load("digits")
    names = ['zero, "nil"', "one\tuno", "two\nzwei", "três", "4", "5", "6", "7", "8", "9"]
    folder = write_folder(tmp_path / "train", digits.X_train.astype(np.uint8), digits.y_train, names)
    out = memorynet("train", "--no-progress", "--data", str(folder), "--max-neurons", "300", "--save",
                    str(tmp_path / "m.mnet"))
    assert out.returncode == 0, out.stderr
    np.save(tmp_path / "four.npy", digits.X_test[:4])
    inputs = [str(tmp_path / "four.npy"), str(folder / names[1]), str(tmp_path / "train" / "*" / "00000[0-2].png")]
    for out_file in ("p.csv", "p.jsonl"):
        out = memorynet("predict", "--model", str(tmp_path / "m.mnet"), *inputs, "--top-k", "3", "--out",
                        str(tmp_path / out_file))
        assert out.returncode == 0, out.stderr
    table = pandas.read_csv(tmp_path / "p.csv", keep_default_na=False)
    lines = pandas.read_json(tmp_path / "p.jsonl", lines=True)
    globbed = {str(p) for p in (tmp_path / "train").glob("*/00000[0-2].png")}
    n_images = 4 + len(globbed | {str(p) for p in (folder / names[1]).iterdir()})  # each file once
    assert len(table) == len(lines) == 3 * n_images and list(table["rank"][:3]) == [1, 2, 3]
    assert set(table["class_name"]) <= set(names) and list(table["class_name"]) == list(lines["class_name"])
    assert (table.groupby(["path", "index"])["score"].apply(lambda s: s.is_monotonic_decreasing)).all()
    best = table[table["rank"] == 1]
    assert (best[best["path"].str.contains(names[1].split("\t")[0])]["class_name"] == names[1]).mean() > 0.9


def test_evaluate_reports_per_class_figures_and_a_confusion_matrix(tmp_path):
    out = memorynet("train", "--no-progress", "--max-neurons", "300", "--save", str(tmp_path / "m.mnet"))
    assert out.returncode == 0, out.stderr
    out = memorynet("evaluate", "--model", str(tmp_path / "m.mnet"), "--no-progress", "--json",
                    str(tmp_path / "e.json"), "--confusion", str(tmp_path / "c.png"))
    assert out.returncode == 0, out.stderr
    assert "precision" in out.stdout and "recall" in out.stdout and "f1-score" in out.stdout
    report = json.loads((tmp_path / "e.json").read_text())
    assert 0.9 < report["accuracy"] <= 1 and set(report["3"]) == {"precision", "recall", "f1-score", "support"}
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def _bomb(path):
    Image.new("L", (5000, 5000)).save(path)  # 25 M pixels, a few KB compressed


@pytest.mark.parametrize("make, message", [
    (lambda root: (root / "a" / "x.png").write_bytes(b"not an image"), r"a/x.png: not a readable image"),
    (lambda root: (root / "a" / "x.jpg").write_bytes((root / "b" / "000003.jpg").read_bytes()[:200]),
     r"a/x.jpg: not a readable image"),
    (lambda root: _bomb(root / "a" / "big.png"), r"big.png: over the 16777216 pixels accepted"),
    (lambda root: (root / "c").mkdir(), r"class folder\(s\) c hold no image"),
    (lambda root: Image.new("L", (5, 5)).save(root / "a" / "small.png"), r"small.png: 5 x 5 .* \(--image-size H W\)"),
    (lambda root: os.symlink(root, root / "a" / "loop"), None),  # links to folders are not followed
])
def test_bad_folders_stop_with_one_line_naming_the_file(tmp_path, make, message):
    root = write_folder(tmp_path / "data", np.zeros((6, 1, 8, 8), np.uint8), np.arange(6) % 2, ["a", "b"], ".jpg")
    make(root)
    if message is None:
        assert len(user_data.read_labelled(root, progress=False).y) == 6
        return
    with pytest.raises((user_data.UserDataError, UnreadableImage), match=message):
        user_data.read_labelled(root, progress=False)
    out = memorynet("train", "--no-progress", "--data", str(root), "--max-neurons", "10")
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_skip_bad_skips_and_counts(tmp_path):
    images = np.zeros((40, 1, 8, 8), np.uint8) + np.arange(40, dtype=np.uint8)[:, None, None, None]
    root = write_folder(tmp_path / "data", images, np.arange(40) % 2, ["a", "b"])
    (root / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    data = user_data.read_labelled(root, skip_bad=True, progress=False)
    assert len(data.y) == 40 and data.skipped == [str(root / "a" / "broken.png")]
    out = memorynet("train", "--no-progress", "--data", str(root), "--skip-bad", "--max-neurons", "10")
    assert out.returncode == 0 and "skipped   1 unreadable file(s)" in out.stdout, out.stderr


@pytest.mark.parametrize("frame, options, message", [
    ({"a": [1.0, np.nan, 2.0, 3.0], "label": [0, 1, 0, 1]}, {}, r"missing values \(NaN\) in column\(s\) a"),
    ({"a": [1.0, 2.0], "kind": [0, 1]}, {}, "no label column 'label'"),
    ({"a": ["x", "y"], "label": [0, 1]}, {}, "a are not numeric"),
    ({"a": [1.0, 2.0], "label": [0, 0]}, {}, "1 class"),
])
def test_bad_tables_stop_with_one_line(tmp_path, frame, options, message):
    pandas.DataFrame(frame).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(user_data.UserDataError, match=message):
        user_data.read_labelled(tmp_path / "t.csv", **options)


def test_a_stratified_split_follows_the_seed(tmp_path):
    data = user_data.read_labelled(write_folder(tmp_path / "d", np.zeros((50, 1, 4, 4), np.uint8),
                                                np.arange(50) % 2, ["a", "b"]), progress=False)
    train, test = user_data.train_test(data, test_fraction=0.2, seed=3)
    again = user_data.train_test(data, test_fraction=0.2, seed=3)[1]
    assert len(test.y) == 10 and np.bincount(test.y).tolist() == [5, 5] and test.sources == again.sources
    assert not set(train.sources) & set(test.sources)
    with pytest.raises(user_data.UserDataError, match="between 0 and 1"):
        user_data.train_test(data, test_fraction=1.5)


def test_an_npz_declaring_more_than_it_holds_is_refused_before_reading(tmp_path):
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (10**12, 1, 8, 8)})
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w") as z:
        z.writestr("X.npy", header.getvalue() + bytes(64))
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(2))
        z.writestr("y.npy", buffer.getvalue())
    with pytest.raises(user_data.UserDataError, match=r"array X declares \(1000000000000, 1, 8, 8\)"):
        user_data.read_labelled(tmp_path / "bomb.npz")
