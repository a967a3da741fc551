"""Model files: round trips, atomic writes, and refusal of every damaged or crafted file."""

import io
import json
import os
import re
import zipfile

import numpy as np
import pytest
from references import write_version_1

from memorynet import MemoryNetworkClassifier, scale_pixels
from memorynet.io.model_files import _digest
from memorynet.models.persistence import FORMAT_VERSION, ModelFileError, load_model, read_header, save_model


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    X = rng.random((80, 2, 3, 3), dtype=np.float32)
    y = np.array(["cat", "dog", "emu"])[np.arange(80) % 3]
    return MemoryNetworkClassifier(30, threshold=0.5, n_neighbors=3, random_state=4).fit(X, y), X


def rewrite(path, resign=True, **changes):
    """Rewrite a model file with some members replaced (header given as a dict of fields to update), signed
    with a valid checksum unless ``resign`` is false: what a crafted file would look like."""
    with np.load(path, allow_pickle=False) as npz:
        members = {name: npz[name] for name in npz.files}
    header = json.loads(members["header"].tobytes())
    for key, value in changes.items():
        if key == "header":
            header.update(value)
        else:
            members[key] = value
    if resign:
        header["sha256"] = _digest(members, header if header["format_version"] > 1 else None)
    members["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **members)


def test_round_trip_predicts_exactly_like_the_saved_model(fitted, tmp_path):
    model, X = fitted
    path = model.save(tmp_path / "m.mnet", {"note": "hello"})
    loaded = MemoryNetworkClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.memories_, model.memories_)
    np.testing.assert_array_equal(loaded.counters_, model.counters_)
    assert loaded.get_params() == model.get_params()
    assert loaded.n_samples_seen_ == model.n_samples_seen_ and loaded.image_shape_ == (2, 3, 3)
    header = read_header(path)
    assert header["format_version"] == FORMAT_VERSION and header["metadata"] == {"note": "hello"}


def test_loaded_model_keeps_learning_like_the_original(fitted, tmp_path):
    model, X = fitted
    loaded = MemoryNetworkClassifier.load(model.save(tmp_path / "m.mnet"))
    y = np.array(["cat", "dog", "emu"])[np.arange(80) % 3]
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.memories_, model.memories_)


def test_the_file_holds_no_pickle(fitted, tmp_path):
    model, _ = fitted
    path = model.save(tmp_path / "m.mnet")
    with np.load(path, allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)


def test_save_is_atomic_and_leaves_no_temporary_files(fitted, tmp_path, monkeypatch):
    model, _ = fitted
    path = model.save(tmp_path / "m.mnet")
    before = path.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mnet"]


def test_truncated_file_is_refused(fitted, tmp_path):
    path = fitted[0].save(tmp_path / "m.mnet")
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 5):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="truncated or corrupted"):
            MemoryNetworkClassifier.load(path)


def test_flipped_byte_is_refused(fitted, tmp_path):
    path = fitted[0].save(tmp_path / "m.mnet")
    with np.load(path, allow_pickle=False) as npz:
        memories = npz["memories"].copy()
    memories[0, 0] += 1.0
    with zipfile.ZipFile(path) as z:  # keep the header, change the array
        members = {n: z.read(n) for n in z.namelist()}
    buffer = io.BytesIO()
    np.save(buffer, memories)
    members["memories.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        MemoryNetworkClassifier.load(path)


def test_future_version_is_refused(fitted, tmp_path):
    path = fitted[0].save(tmp_path / "m.mnet")
    rewrite(path, header={"format_version": FORMAT_VERSION + 1})
    with pytest.raises(ModelFileError, match="upgrade memorynet"):
        MemoryNetworkClassifier.load(path)


def test_object_arrays_are_refused_without_unpickling(fitted, tmp_path):
    path = fitted[0].save(tmp_path / "m.mnet")
    with np.load(path, allow_pickle=False) as npz:
        members = {name: npz[name] for name in npz.files}
    members["classes"] = np.array([object(), 1], dtype=object)
    with open(path, "wb") as fh:
        np.savez(fh, **members)  # np.savez pickles object arrays
    with pytest.raises(ModelFileError, match="never contain Python objects"):
        MemoryNetworkClassifier.load(path)


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def saved(request, fitted, tmp_path):
    """A saved model file, in the current format and in version 1."""
    path = tmp_path / "m.mnet"
    return fitted[0].save(path) if request.param == 2 else write_version_1(fitted[0], path)


def test_version_1_files_still_load(fitted, tmp_path):
    model, X = fitted
    loaded, meta = load_model(write_version_1(model, tmp_path / "v1.mnet"))
    assert meta == {"preprocessing": "scale"} and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.memories_, model.memories_)


def test_the_checksum_covers_the_header(fitted, tmp_path):
    path = fitted[0].save(tmp_path / "m.mnet", {"note": "hello"})
    rewrite(path, resign=False, header={"metadata": {"note": "edited"}})
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_model(path)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(memories=a["memories"].astype(np.float64)), "should be float32"),
    (lambda a: a["memories"].__setitem__((0, 0), np.nan), "NaN or infinity"),
    (lambda a: a["labels"].__setitem__(0, 7), "labels outside"),
    (lambda a: a["counters"].__setitem__(0, 0), "at least 1"),
    (lambda a: a.update(labels=a["labels"][:-1]), "should be int64"),
    (lambda a: a.update(classes=a["classes"][::-1]), "sorted and distinct"),
])
def test_crafted_arrays_with_a_valid_checksum_are_refused(saved, change, message):
    with np.load(saved, allow_pickle=False) as npz:
        arrays = {name: npz[name].copy() for name in ("memories", "labels", "counters", "classes")}
    change(arrays)
    rewrite(saved, **arrays)
    with pytest.raises(ModelFileError, match=message):
        MemoryNetworkClassifier.load(saved)


@pytest.mark.parametrize("header, message", [
    ({"state": {"image_shape": [3, 3, 3], "n_samples_seen": 80}}, "do not fit"),
    ({"state": {"image_shape": [-2, -3, 3], "n_samples_seen": 80}}, "three positive integers"),
    ({"state": {"image_shape": [2, 3, 3], "n_samples_seen": 5}}, "n_samples_seen is smaller"),
    ({"params": {"max_neurons": -1}}, "invalid parameters"),
    ({"params": {"unknown": 1}}, "invalid parameters"),
    ({"format": "other"}, "not a memorynet model"),
    ({"state": "many"}, "state"),
    ({"estimator": "Pickle"}, "unknown estimator"),
    ({"preprocessing": {"chain": "rot13", "pixel_max": 255}}, "invalid preprocessing"),
])
def test_crafted_headers_are_refused(fitted, tmp_path, header, message):
    path = fitted[0].save(tmp_path / "m.mnet")
    rewrite(path, header=header)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


@pytest.mark.parametrize("header, message", [
    ({"image_shape": [3, 3, 3]}, "do not fit"),
    ({"params": {"max_neurons": -1}}, "invalid parameters"),
    ({"n_neurons": "many"}, "n_neurons"),
])
def test_crafted_version_1_headers_are_refused(fitted, tmp_path, header, message):
    path = write_version_1(fitted[0], tmp_path / "m.mnet")
    rewrite(path, header=header)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_not_a_model_file(tmp_path):
    path = tmp_path / "x.mnet"
    path.write_bytes(b"hello")
    with pytest.raises(ModelFileError):
        MemoryNetworkClassifier.load(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MemoryNetworkClassifier.load(tmp_path / "missing.mnet")


def test_unfitted_model_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MemoryNetworkClassifier().save(tmp_path / "m.mnet")


def test_saved_mnist_model_predicts_the_same(mnist, tmp_path):
    X = scale_pixels(mnist.X_train[:20000])
    model = MemoryNetworkClassifier(2000, random_state=0).fit(X, mnist.y_train[:20000])
    loaded, _ = load_model(save_model(model, tmp_path / "mnist.mnet"))
    X_test = scale_pixels(mnist.X_test)
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))


def test_saved_files_get_ordinary_permissions(fitted, tmp_path):
    import os

    path = fitted[0].save(tmp_path / "m.mnet")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    fitted[0].save(path)  # overwriting keeps the user's permissions
    assert path.stat().st_mode & 0o777 == 0o640


def test_what_cannot_be_read_back_is_refused_up_front(tmp_path):
    X = np.random.default_rng(0).random((6, 64), dtype=np.float32)
    with pytest.raises(ValueError, match="three positive integers"):
        MemoryNetworkClassifier(image_shape=(-1, -8, 8)).fit(X, [0, 1] * 3)
    model = MemoryNetworkClassifier(10).fit(X, np.array([True, False] * 3))
    with pytest.raises(TypeError, match="cannot save class labels of type bool"):
        model.save(tmp_path / "m.mnet")
    assert not (tmp_path / "m.mnet").exists()


@pytest.mark.parametrize("classes", [np.array([3, -7, 12]), np.array([1.0, 2.0, -3.0]), np.array(["b", "a", "ç"])])
def test_labels_of_every_saved_kind_come_back_identical(tmp_path, classes):
    X = np.random.default_rng(0).random((9, 4), dtype=np.float32)
    y = np.repeat(classes, 3)
    model = MemoryNetworkClassifier(10, random_state=0).fit(X, y)
    loaded = MemoryNetworkClassifier.load(model.save(tmp_path / "m.mnet"))
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.classes_.dtype.kind == model.classes_.dtype.kind
    np.testing.assert_array_equal(loaded.predict(X), y)


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write_members(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, blob in members.items():
            z.writestr(name, blob)


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("craft, message", [
    (lambda m, p: _write_members(p, {**m, "memories.npy": _npy(np.zeros((20000, 2000), np.float32))},
                                 zipfile.ZIP_DEFLATED), "is compressed"),
    (lambda m, p: _write_members(p, {**m, "memories.npy": m["memories.npy"].replace(b"(30, 18)",
                                                                                    b"(10000000000, 18)")}),
     "declares an array of shape"),
    (lambda m, p: _write_members(p, {**m, "header.npy": _npy(np.zeros(2 << 20, np.uint8))}), "over the"),
    (lambda m, p: _write_members(p, {**m, "header.npy": _npy(np.frombuffer(b"[" * 5000 + b"]" * 5000, np.uint8))}),
     "malformed header|nested deeper"),
    (lambda m, p: _write_members(p, {**m, "header.npy": _npy(np.frombuffer(b'{"a":' * 40 + b"1" + b"}" * 40,
                                                                          np.uint8))}), "nested deeper"),
])
def test_sizes_are_checked_before_anything_is_allocated(fitted, tmp_path, craft, message):
    import resource
    path = fitted[0].save(tmp_path / "m.mnet")
    craft(_members(path), path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelFileError, match=message):
        load_model(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing big was allocated


def test_leftovers_of_a_killed_save_are_removed_by_the_next_save(fitted, tmp_path):
    import subprocess

    path = tmp_path / "m.mnet"
    dead = subprocess.Popen(["true"])  # a process that has ended: its pid names no live process
    dead.wait()
    (tmp_path / f".m.mnet.{dead.pid}.abc123.tmp").write_bytes(b"half a model")
    (tmp_path / f".m.mnet.{os.getpid()}.live.tmp").write_bytes(b"a save in progress")  # a live process: kept
    fitted[0].save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".m.mnet.{os.getpid()}.live.tmp", "m.mnet"]


def test_a_full_disk_names_the_path(fitted, tmp_path, monkeypatch):
    import errno

    def full(fh, **arrays):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(OSError, match=f"no space left on the device to write {tmp_path / 'm.mnet'}"):
        fitted[0].save(tmp_path / "m.mnet")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("arrays, message", [
    ({"bank_sizes": np.array([0, 30])}, "a bank without neurons"),
    ({"classes": np.array([0.0, 1.0, np.nan])}, "NaN or infinity"),
    ({"counters": np.full(30, 2**62, np.int64)}, "n_samples_seen is smaller"),
])
def test_banks_without_neurons_nan_classes_and_overflowing_counters_are_refused(fitted, tmp_path, arrays, message):
    path = fitted[0].save(tmp_path / "m.mnet")
    rewrite(path, **arrays)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_version_2_files_still_load_and_state_arrays_must_match_the_header(fitted, tmp_path):
    model, X = fitted
    path = model.save(tmp_path / "m.mnet")
    rewrite(path, header={"format_version": 2})  # what memorynet wrote before the readout arrays existed
    np.testing.assert_array_equal(load_model(path)[0].predict(X), model.predict(X))
    path = model.save(tmp_path / "n.mnet")
    rewrite(path, state_extra=np.zeros(3))  # an array the header does not list
    with pytest.raises(ModelFileError, match="not those the header lists"):
        load_model(path)
    rewrite(path, header={"state_arrays": ["extra"]})  # listed, but a paper model stores none
    with pytest.raises(ModelFileError, match="does not store"):
        load_model(path)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_model_file_with_a_member_twice_is_refused(fitted, tmp_path):
    """Two members of one name (or names that np.load takes as one) would leave the loader to guess."""
    path = fitted[0].save(tmp_path / "m.mnet")
    members = _members(path)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("memories.npy", _npy(np.zeros((30, 18), np.float32)))
    with pytest.raises(ModelFileError, match=r"members named \['memories'\] more than once"):
        load_model(path)
    _write_members(path, {**members, "header": members["header.npy"]})
    with pytest.raises(ModelFileError, match=r"members named \['header'\] more than once"):
        load_model(path)


# Every rule the loader applies to the header, and the value that breaks it: save refuses what load would refuse.
_LOAD_RULES = {
    "MAX_HEADER_BYTES": ({"blob": "x" * (2 << 20)}, "over the 1048576 bytes"),
    "_MAX_JSON_DEPTH": ({"deep": json.loads("[" * 40 + "]" * 40)}, "nested deeper than 32"),
    "json.loads (NaN, infinity)": ({"accuracy": float("nan")}, "finite JSON values"),
    "json keys are strings": ({"by_class": {1: 0.5}}, r"\['metadata'\] would not load back"),
}


@pytest.mark.parametrize("rule", _LOAD_RULES)
def test_what_load_refuses_save_refuses_first(fitted, tmp_path, rule):
    metadata, message = _LOAD_RULES[rule]
    path = tmp_path / "m.mnet"
    path.write_bytes(b"kept")
    with pytest.raises((ValueError, TypeError), match=message):
        save_model(fitted[0], path, metadata=metadata)
    assert path.read_bytes() == b"kept" and [p.name for p in tmp_path.iterdir()] == ["m.mnet"]


def test_every_header_rule_of_the_loader_has_its_save_side_twin():
    """The loader's limits, read from its source, are each in the table above (a new limit needs a twin)."""
    import inspect

    from memorynet.io import model_files

    source = inspect.getsource(model_files._read) + inspect.getsource(model_files._check_members)
    limits = set(re.findall(r"\b(MAX_HEADER_BYTES|_MAX_JSON_DEPTH)\b", source))
    assert limits == {"MAX_HEADER_BYTES", "_MAX_JSON_DEPTH"}
    assert limits <= set(_LOAD_RULES)
    assert "json.loads" in source  # its parse: the NaN and key rules above


def test_metadata_round_trips_exactly(fitted, tmp_path):
    metadata = {"note": "héllo\t\"quoted\"", "shape": [1, 28, 28], "nested": {"a": [1.5, None, True]},
                "big": 2**62, "small": 1e-300, "tuple": (1, 2)}
    path = save_model(fitted[0], tmp_path / "m.mnet", metadata=metadata)
    assert load_model(path)[1] == {**metadata, "tuple": [1, 2]}
