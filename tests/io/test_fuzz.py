"""Fuzzing every file format memorynet reads, under a memory cap: each input ends in the documented exception
(``ModelFileError`` for model files, ``DataFormatError`` for data sets, ``ValueError`` for predict inputs) or in a
correct result, and never takes more than 1 GiB beyond what the process already uses (a blow-up raises
``MemoryError``, which fails the test instead of the machine)."""

import io
import json
import pickle
import resource
import struct
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memorynet import MemoryNetworkClassifier, SideBySideClassifier, datasets, load_model
from memorynet.io.inputs import read_npy, read_png
from memorynet.io.model_files import _digest
from memorynet.models.persistence import ModelFileError

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=12)


@pytest.fixture(autouse=True)
def memory_cap():
    """Address space limited to the current size + 1 GiB while the test runs."""
    with open("/proc/self/status") as fh:
        size = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + (1 << 30), hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(scope="module", params=[4, 2, 1], ids=["v4 side by side", "current", "v1"])
def model_file(request, tmp_path_factory):
    from references import write_version_1

    rng = np.random.default_rng(0)
    X, y = rng.random((12, 4), dtype=np.float32), np.arange(12) % 3
    model = MemoryNetworkClassifier(6, random_state=0).fit(X, y) if request.param < 4 else SideBySideClassifier(
        [("paper", {"max_neurons": 6}), ("paper", {"max_neurons": 4})], weights=[1.0, 0.5], random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("fuzz") / "m.mnet"
    (write_version_1(model, path) if request.param == 1 else model.save(path))
    return path.read_bytes(), model


def _outcome(blob, tmp_path, reference):
    path = tmp_path / "m.mnet"
    path.write_bytes(blob)
    try:
        loaded = load_model(path)[0]
    except ModelFileError:
        return "refused"
    X = np.random.default_rng(1).random((5, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(X), reference.predict(X))  # a harmless byte (zip padding)
    return "identical"


def test_every_single_byte_flip_and_every_truncation_of_a_model_file(model_file, tmp_path):
    blob, model = model_file
    for position in range(len(blob)):
        flipped = bytearray(blob)
        flipped[position] ^= 0xFF
        _outcome(bytes(flipped), tmp_path, model)
    for length in range(len(blob)):
        assert _outcome(blob[:length], tmp_path, model) == "refused"


@FUZZ
@given(edit=st.dictionaries(st.sampled_from(["format_version", "estimator", "params", "state", "preprocessing",
                                             "metadata", "image_shape", "n_neurons", "n_samples_seen", "members",
                                             "state_arrays", "new"]),
                            json_values, min_size=1, max_size=3))
def test_random_edits_of_the_json_header_signed_anew(model_file, tmp_path_factory, edit):
    blob, model = model_file
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        members = {name[:-4]: np.load(io.BytesIO(z.read(name)), allow_pickle=False) for name in z.namelist()}
    header = json.loads(members.pop("header").tobytes())
    header.update(edit)
    version = header.get("format_version")
    try:  # signed as the claimed version would be, so the checks behind the checksum are exercised
        header["sha256"] = _digest(members, header if type(version) is int and version > 1 else None)
    except (KeyError, ModelFileError):  # arrays the claim does not match, or members no header could list: no
        # valid signature exists
        header["sha256"] = "0" * 64
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **members)
    _outcome(buffer.getvalue(), tmp_path_factory.mktemp("edit"), model)


def _idx(shape, payload: bytes, gz: bool) -> bytes:
    raw = struct.pack(">HBB", 0, 0x08, len(shape)) + struct.pack(f">{len(shape)}I", *shape) + payload
    return zlib.compress(raw, wbits=31) if gz else raw


@FUZZ
@given(shape=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
       payload=st.integers(0, 5000), gz=st.booleans())
def test_idx_size_fields(tmp_path_factory, shape, payload, gz):
    path = tmp_path_factory.mktemp("idx") / "x-idx3-ubyte"
    path.write_bytes(_idx(shape, bytes(payload), gz))
    try:
        images = datasets.read_idx(path, 3, (28, 28))
    except datasets.DataFormatError:
        return
    assert images.shape == shape and images.nbytes == payload


def _pickled_array(shape, data: np.ndarray):
    """A pickle that rebuilds ``data``'s bytes under a claimed ``shape`` (what a crafted batch can say)."""
    function, args, (version, _, dtype, fortran, raw) = data.__reduce__()

    class Claim:
        def __reduce__(self):
            return function, args, (version, shape, dtype, fortran, raw)

    return Claim()


@FUZZ
@given(records=st.integers(0, 4), extra=st.integers(-3, 3), python=st.booleans(),
       rows=st.integers(0, 10**12), width=st.sampled_from([3072, 3071, 1]),
       labels=st.lists(st.integers(-2, 12), max_size=5))
def test_cifar_size_fields(records, extra, python, rows, width, labels):
    if python:
        data = _pickled_array((rows, width), np.zeros((min(rows, 4), 3072), np.uint8))
        blob = pickle.dumps({b"data": data, b"labels": labels}, protocol=4)
        decode = datasets._decode_cifar_python
    else:
        blob = bytes(max(records * 3073 + extra, 0))
        decode = datasets._decode_cifar_records
    try:
        X, y = decode(blob, "batch")
    except datasets.DataFormatError:
        return
    assert X.dtype == np.uint8 and X.shape[1:] == (3, 32, 32) and len(X) == len(y)
    assert ((y >= 0) & (y < 10)).all()


@FUZZ
@given(width=st.integers(0, 2**32 - 1), height=st.integers(0, 2**32 - 1), tail=st.binary(max_size=64))
def test_png_size_fields(tmp_path_factory, width, height, tail):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    blob = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path = tmp_path_factory.mktemp("png") / "x.png"
    path.write_bytes(blob + tail)
    with pytest.raises(ValueError):
        read_png(path)


@FUZZ
@given(shape=st.lists(st.integers(0, 10**13), min_size=0, max_size=4), data=st.integers(0, 4096),
       descr=st.sampled_from(["|u1", "<f4", "<f8", "|O", "<U3", "|b1"]))
def test_npy_size_fields(tmp_path_factory, shape, data, descr):
    path = tmp_path_factory.mktemp("npy") / "x.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
        fh.write(bytes(data))
    try:
        array = read_npy(path)
    except ValueError:
        return
    assert array.shape == tuple(shape) and array.nbytes == data
