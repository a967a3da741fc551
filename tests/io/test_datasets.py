"""Official-format readers on files made here, downloads from a local HTTP server, and the real data."""

import functools
import gzip
import hashlib
import http.server
import io
import pickle
import struct
import tarfile
import threading
import time

import numpy as np
import pytest

from memorynet import datasets


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train": (rng.integers(0, 256, (n_train, 28, 28)), rng.integers(0, 10, n_train)),
              "t10k": (rng.integers(0, 256, (n_test, 28, 28)), rng.integers(0, 10, n_test))}
    for prefix, (images, labels) in arrays.items():
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return arrays


def cifar_records(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    return np.concatenate([labels[:, None], pixels], axis=1).tobytes(), labels, pixels


def write_cifar_tar(path, mode="w:gz"):
    with tarfile.open(path, mode) as tar:
        for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
            blob = cifar_records(4, i)[0]
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def test_read_idx_round_trip(tmp_path):
    arrays = write_mnist(tmp_path / "mnist")
    ds = datasets.load("mnist", tmp_path, progress=False)
    assert ds.X_train.shape == (12, 1, 28, 28) and ds.X_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.X_train[:, 0], arrays["train"][0])
    np.testing.assert_array_equal(ds.y_test, arrays["t10k"][1])
    assert ds.class_names[3] == "3" and ds.pixel_max == 255.0


def test_uncompressed_idx_is_read_too(tmp_path):
    arrays = write_mnist(tmp_path)
    for path in tmp_path.glob("*.gz"):
        path.with_suffix("").write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    ds = datasets.load("fashion-mnist", tmp_path, progress=False)
    np.testing.assert_array_equal(ds.y_train, arrays["train"][1])
    assert ds.class_names[0] == "T-shirt/top"


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:-7], "than the header shape"),
    (lambda b: b"\x00\x00\x09\x03" + b[4:], "bad IDX magic"),
    (lambda b: b"\x1f\x8b garbage", "cannot decompress"),
])
def test_damaged_idx_is_refused(tmp_path, damage, message):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(damage(raw) if message == "cannot decompress" else gzip.compress(damage(raw)))
    with pytest.raises(datasets.DataFormatError, match=message):
        datasets.load("mnist", tmp_path, progress=False)


def test_labels_out_of_range_are_refused(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.full(12, 11))))
    with pytest.raises(datasets.DataFormatError, match="label 11 outside"):
        datasets.load("mnist", tmp_path, progress=False)


@pytest.mark.parametrize("mode, name", [("w:gz", "cifar-10-binary.tar.gz"), ("w:xz", "cifar-10-binary.tar.xz")])
def test_cifar_binary_archive(tmp_path, mode, name):
    write_cifar_tar(tmp_path / name, mode)
    ds = datasets.load("cifar10", tmp_path, progress=False)
    blob, labels, pixels = cifar_records(4, 5)
    assert ds.X_train.shape == (20, 3, 32, 32) and ds.X_test.shape == (4, 3, 32, 32)
    np.testing.assert_array_equal(ds.y_test, labels)
    np.testing.assert_array_equal(ds.X_test.reshape(4, -1), pixels)  # R, G, B planes, row-major
    assert ds.class_names[0] == "airplane"


def test_cifar_extracted_folder_and_python_version(tmp_path):
    binary = tmp_path / "bin" / "cifar-10-batches-bin"
    binary.mkdir(parents=True)
    python = tmp_path / "py" / "cifar-10-batches-py"
    python.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        blob, labels, pixels = cifar_records(3, i)
        (binary / f"{name}.bin").write_bytes(blob)
        (python / name).write_bytes(pickle.dumps({b"data": pixels, b"labels": labels.tolist()}))
    from_bin = datasets.load("cifar10", tmp_path / "bin", progress=False)
    from_py = datasets.load("cifar10", tmp_path / "py", progress=False)
    np.testing.assert_array_equal(from_bin.X_train, from_py.X_train)
    np.testing.assert_array_equal(from_bin.y_test, from_py.y_test)


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("keys", [bytes, str])
def test_cifar_python_batches_written_by_python_3_are_read(tmp_path, protocol, keys):
    """Batches pickled by today's Python (protocols 2 to 5, str or bytes keys) read as the original ones."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    expected = []
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        _, labels, pixels = cifar_records(3, i)
        key = (lambda k: k.encode()) if keys is bytes else str
        (folder / name).write_bytes(pickle.dumps({key("data"): pixels, key("labels"): labels.tolist()},
                                                 protocol=protocol))
        expected.append(pixels)
    data = datasets.load("cifar10", tmp_path, progress=False)
    np.testing.assert_array_equal(data.X_test.reshape(3, -1), expected[-1])


@pytest.mark.parametrize("payload, refused", [
    (lambda: __import__("codecs").encode("x", "rot13"), "_codecs.encode with str and 'rot13'"),
    (lambda: __import__("os").system, "refusing to unpickle posix.system"),
])
def test_the_unpickler_refuses_all_but_array_reconstruction(tmp_path, payload, refused):
    class Crafted:
        def __reduce__(self):
            value = payload()
            return (__import__("_codecs").encode, ("x", "rot13")) if isinstance(value, str) else (value, ("true",))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": Crafted(), b"labels": []}, protocol=2))
    with pytest.raises(datasets.DataFormatError, match=refused):
        datasets.load("cifar10", tmp_path, progress=False)


def test_a_protocol_5_array_claiming_more_than_it_holds_is_refused():
    class Forged:  # what numpy writes for an array under protocol 5, with a shape its bytes do not fill
        def __reduce__(self):
            return (np._core.numeric._frombuffer, (b"\0" * 12, np.dtype(np.uint8), (10**9, 3072), "C"))

    with pytest.raises(datasets.DataFormatError, match=r"claims \(1000000000, 3072\) uint8 .* but holds 12 bytes"):
        datasets._decode_cifar_python(pickle.dumps({b"data": Forged(), b"labels": [0]}, protocol=5), "forged")


def test_cifar_python_batches_cannot_run_code(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(datasets.DataFormatError, match="refusing to unpickle builtins.print"):
        datasets.load("cifar10", tmp_path, progress=False)


def test_truncated_cifar_record_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        (folder / name).write_bytes(cifar_records(2, i)[0][:-1])
    with pytest.raises(datasets.DataFormatError, match="whole number"):
        datasets.load("cifar10", tmp_path, progress=False)


def test_missing_data_names_the_folder_and_the_files(tmp_path):
    with pytest.raises(datasets.DataNotFoundError) as info:
        datasets.load("mnist", tmp_path, progress=False)
    assert str(tmp_path) in str(info.value) and "train-images-idx3-ubyte.gz" in str(info.value)


def test_unknown_dataset_and_missing_directory():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        datasets.load("imagenet")
    with pytest.raises(datasets.DataNotFoundError, match="does not exist"):
        datasets.load("mnist", "/nonexistent/memorynet")


def test_second_load_comes_from_the_decoded_cache(tmp_path, monkeypatch):
    write_mnist(tmp_path)
    datasets.load("mnist", tmp_path, progress=False)
    calls = []
    monkeypatch.setattr(datasets, "read_idx", lambda *a: calls.append(a))
    again = datasets.load("mnist", tmp_path, progress=False)
    assert calls == [] and again.X_train.shape == (12, 1, 28, 28)


def test_digits_needs_no_files():
    ds = datasets.load("digits")
    assert ds.X_train.shape[1:] == (1, 8, 8) and ds.pixel_max == 16.0
    assert len(ds.X_train) + len(ds.X_test) == 1797


# ---------------------------------------------------------------------------------------------------------------
# Downloads from a local HTTP server on 127.0.0.1


@pytest.fixture
def http_folder(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def sha256(path):
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_verifies_and_loads(http_folder, tmp_path, monkeypatch):
    served, url = http_folder
    arrays = write_mnist(served)
    sources = [datasets.Source(p.name, url + p.name, sha256(p)) for p in sorted(served.glob("*.gz"))]
    monkeypatch.setitem(datasets.SOURCES, "mnist", sources)
    target = tmp_path / "data"
    target.mkdir()
    ds = datasets.load("mnist", target, download=True, progress=False)
    np.testing.assert_array_equal(ds.y_train, arrays["train"][1])
    assert sorted(p.name for p in (target / "mnist").iterdir()) == sorted(s.filename for s in sources)


def test_corrupted_download_is_rejected_and_removed(http_folder, tmp_path, monkeypatch):
    served, url = http_folder
    write_mnist(served)
    good = served / "train-images-idx3-ubyte.gz"
    expected = sha256(good)
    good.write_bytes(good.read_bytes()[:-10] + b"corrupted!")
    source = datasets.Source(good.name, url + good.name, expected)
    with pytest.raises(datasets.DataFormatError, match="checksum mismatch"):
        datasets.fetch(source, tmp_path / "dl", progress=False)
    assert list((tmp_path / "dl").iterdir()) == []  # neither the file nor a partial download remains


def test_unreachable_server_gives_one_clear_error(tmp_path):
    source = datasets.Source("x.gz", "http://127.0.0.1:9/x.gz", "sha256:00")
    with pytest.raises(datasets.DataNotFoundError, match="could not download http://127.0.0.1:9/x.gz"):
        datasets.fetch(source, tmp_path, progress=False, timeout=2)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------------------------
# The benchmark data


def test_real_mnist(mnist):
    assert mnist.X_train.shape == (60000, 1, 28, 28) and mnist.X_test.shape == (10000, 1, 28, 28)
    assert list(mnist.y_train[:5]) == [5, 0, 4, 1, 9]  # the original order
    assert np.bincount(mnist.y_test).tolist()[:3] == [980, 1135, 1032]


def test_real_cifar10(cifar10):
    assert cifar10.X_train.shape == (50000, 3, 32, 32) and cifar10.X_test.shape == (10000, 3, 32, 32)
    assert np.bincount(cifar10.y_train).tolist() == [5000] * 10


def _gzip_bomb(header_shape, payload_bytes):
    """An IDX header implying a small array, followed by far more (highly compressible) data."""
    header = struct.pack(">HBB", 0, 0x08, len(header_shape)) + struct.pack(f">{len(header_shape)}I", *header_shape)
    compressor = __import__("zlib").compressobj(9, wbits=31)
    chunks = [compressor.compress(header)]
    zeros = bytes(1 << 20)
    for _ in range(payload_bytes >> 20):
        chunks.append(compressor.compress(zeros))
    return b"".join(chunks) + compressor.flush()


def test_idx_reads_no_more_than_its_header_implies(tmp_path):
    import resource

    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(_gzip_bomb((10, 28, 28), 512 << 20))  # 512 MB of zeros behind a 7840-byte array
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(datasets.DataFormatError, match="more bytes than the header"):
        datasets.read_idx(path, 3)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


@pytest.mark.parametrize("shape, message", [((10, 2, 2), r"items of shape \(2, 2\), expected \(28, 28\)"),
                                            ((4_000_000_000, 28, 28), "over the")])
def test_idx_headers_are_checked_before_reading(tmp_path, shape, message):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">3I", *shape) + bytes(40))
    with pytest.raises(datasets.DataFormatError, match=message):
        datasets.read_idx(path, 3, (28, 28))


def test_cifar_members_far_beyond_a_batch_are_refused_before_reading(tmp_path):
    path = tmp_path / "cifar-10-binary.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("cifar-10-batches-bin/data_batch_1.bin")
        info.size = 6 << 30
        info.type = tarfile.REGTYPE
        tar.addfile(info)  # the header alone: a 6 GB member in a small archive
    with pytest.raises(datasets.DataFormatError, match="far beyond a CIFAR-10 batch"):
        datasets.read_cifar10(path)


@pytest.mark.parametrize("batch, message", [
    ({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, -1, 2]}, "label -1"),
    ({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]}, "labels of shape"),
    ({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0.0, 1.5, 2.0]}, "must be integers"),
    ({b"data": np.full((3, 3072), 300, np.int64), b"labels": [0, 1, 2]}, "must be uint8"),
])
def test_cifar_python_batches_with_bad_contents_are_refused(batch, message):
    blob = pickle.dumps(batch, protocol=4)
    with pytest.raises(datasets.DataFormatError, match=message):
        datasets._decode_cifar_python(blob, "batch")


@pytest.mark.parametrize("cut", [1, 10, 100, 1000])
def test_truncated_cifar_python_batches_name_the_file(cut):
    blob = pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1, 2]}, protocol=4)
    with pytest.raises(datasets.DataFormatError, match="batch: not a CIFAR-10 python batch"):
        datasets._decode_cifar_python(blob[:cut], "batch")


@pytest.fixture
def raw_server():
    """A one-connection-at-a-time HTTP server on 127.0.0.1 whose response is a programmable byte generator."""
    import socket

    responses = {}
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(4096)
                try:
                    for chunk in responses["body"]():
                        if stop.is_set():
                            break
                        conn.sendall(chunk)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield responses, f"http://127.0.0.1:{listener.getsockname()[1]}/file"
    stop.set()
    thread.join(timeout=5)
    listener.close()


def _trickle():
    import time

    yield b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n"
    for _ in range(100):
        time.sleep(0.1)
        yield b"x"


def _stall():
    import time

    yield b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\nabc"
    time.sleep(6)
    yield b"x"


def _endless():
    yield b"HTTP/1.0 200 OK\r\n\r\n"
    while True:
        yield bytes(1 << 16)


@pytest.mark.parametrize("body, message", [
    (_trickle, "within 1 s"),
    (_stall, "within 1 s"),
    (_endless, "sent more than the 1048576 bytes"),
    (lambda: iter([b"HTTP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n"]), "announces 99999999 bytes"),
    (lambda: iter([b"HTTP/1.0 200 OK\r\nContent-Length: many\r\n\r\nabc"]), "could not download"),
    (lambda: iter([b"garbage status line\r\n\r\n"]), "could not download"),
    (lambda: iter([b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nshort"]), "could not download"),
])
def test_hostile_servers_end_in_one_error_naming_the_url(raw_server, tmp_path, body, message):
    responses, url = raw_server
    responses["body"] = body
    source = datasets.Source("x.gz", url, "sha256:" + "0" * 64, max_bytes=1 << 20)
    start = time.monotonic()
    with pytest.raises((datasets.DataNotFoundError, datasets.DataFormatError), match=message) as caught:
        datasets.fetch(source, tmp_path, progress=False, timeout=5, deadline=1)
    assert time.monotonic() - start < 2  # the deadline holds within a second, however the bytes come
    assert url in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left


def test_a_truncated_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMORYNET_CACHE", str(tmp_path / "cache"))
    write_mnist(tmp_path / "data" / "mnist")
    first = datasets.load("mnist", tmp_path / "data", progress=False)
    (entry,) = (tmp_path / "cache" / "decoded").glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:100])
    again = datasets.load("mnist", tmp_path / "data", progress=False)
    np.testing.assert_array_equal(again.X_train, first.X_train)
    assert entry.stat().st_size > 100  # rewritten whole


def test_a_pickle_claiming_a_huge_array_is_refused_without_allocating_it():
    import resource

    template = np.zeros(4, np.uint8).__reduce__()
    version, _, dtype, fortran, raw = template[2]

    class Bomb:
        def __reduce__(self):
            return template[0], template[1], (version, (10**12,), dtype, fortran, raw)

    blob = pickle.dumps({b"data": Bomb(), b"labels": [0]}, protocol=4)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(datasets.DataFormatError, match="not a CIFAR-10 python batch"):
        datasets._decode_cifar_python(blob, "batch")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_a_cifar_archive_with_a_batch_twice_is_refused(tmp_path):
    """The good copy last would be read silently; the bad copy last would poison the data: neither is guessed."""
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin", "test_batch.bin"]):
            blob = cifar_records(3, i)[0]
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    with pytest.raises(datasets.DataFormatError, match="two members named test_batch.bin"):
        datasets.read_cifar10(archive)
