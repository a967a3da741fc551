"""A folder larger than memory: ``stream --data FOLDER`` decodes one chunk at a time, checkpoints and resumes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from memorynet import MemoryNetworkClassifier, load_model
from memorynet.io import user_data
from memorynet.models.streaming import stream_fit


def memorynet(*args):
    return subprocess.run([sys.executable, "-m", "memorynet", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    """sklearn's digits (8 x 8, 0-16, scaled to 0-240) as a folder of class folders of PNGs, and as an .npz of the
    same arrays in the order the folder is read (class folder, then file name)."""
    X, y = load_digits(return_X_y=True)
    X, y = (X[:600] * 15).astype(np.uint8).reshape(-1, 1, 8, 8), y[:600]
    root = tmp_path_factory.mktemp("digits")
    for i, (image, label) in enumerate(zip(X, y)):
        (root / "folder" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0]).save(root / "folder" / str(label) / f"{i:04d}.png")
    order = np.argsort(y, kind="stable")
    np.savez(root / "arrays.npz", X=X[order], y=y[order])
    return root


def test_streaming_a_folder_equals_streaming_its_arrays(digits_folder, tmp_path):
    common = ["--no-progress", "--max-neurons", "120", "--test-fraction", "0.25", "--checkpoint-every", "100",
              "--seed", "3"]
    folder = memorynet("stream", "--data", str(digits_folder / "folder"), "--checkpoint", str(tmp_path / "f.mnet"),
                       *common)
    arrays = memorynet("stream", "--data", str(digits_folder / "arrays.npz"), "--checkpoint",
                       str(tmp_path / "a.mnet"), *common)
    assert folder.returncode == 0 and arrays.returncode == 0, folder.stderr + arrays.stderr
    line = lambda out: next(s for s in out.stdout.splitlines() if s.startswith("accuracy"))  # noqa: E731
    assert line(folder) == line(arrays) and "streamed  450 images" in folder.stdout
    from_folder, from_arrays = load_model(tmp_path / "f.mnet")[0][-1], load_model(tmp_path / "a.mnet")[0][-1]
    np.testing.assert_array_equal(from_folder.memories_, from_arrays.memories_)
    np.testing.assert_array_equal(from_folder.counters_, from_arrays.counters_)


class Recording(user_data.FolderImages):
    """A folder source that records the size of every read, and fails once after ``fail_after`` chunks."""

    reads: list[int] = []
    fail_after: int | None = None

    def read(self, start=0, stop=None, **kwargs):
        if self.fail_after is not None and len(self.reads) == self.fail_after:
            Recording.fail_after = None
            raise KeyboardInterrupt("killed")
        self.reads.append(len(range(len(self.files))[start:stop]))
        return super().read(start, stop, **kwargs)


def _recording(folder) -> Recording:
    images = user_data.open_image_folder(folder)
    source = Recording(images.files, images.y, images.class_names, images.shape, None, False, images.files[0])
    return source.take(np.random.default_rng(0).permutation(len(source)))


def test_a_folder_stream_reads_one_chunk_at_a_time_and_resumes_where_it_stopped(digits_folder, tmp_path):
    source = _recording(digits_folder / "folder")
    Recording.reads, Recording.fail_after = [], 3
    with pytest.raises(KeyboardInterrupt):
        stream_fit(MemoryNetworkClassifier(100), source, None, tmp_path / "c.mnet", every=70, progress=False)
    assert Recording.reads == [70, 70, 70]
    assert load_model(tmp_path / "c.mnet")[1]["position"] == 210
    resumed = stream_fit(MemoryNetworkClassifier(100), source, None, tmp_path / "c.mnet", every=70, progress=False)
    assert Recording.reads[3:] == [70] * 5 + [40]  # from sample 210 on, never more than a chunk
    whole = source.read()
    reference = MemoryNetworkClassifier(100)
    for start in range(0, 600, 70):
        reference.partial_fit(whole.X[start:start + 70], whole.y[start:start + 70], classes=np.arange(10))
    np.testing.assert_array_equal(resumed.memories_, reference.memories_)
    assert resumed.n_samples_seen_ == 600


def test_a_bad_file_in_a_folder_stream_stops_it_or_is_skipped(digits_folder, tmp_path):
    folder = tmp_path / "folder"
    subprocess.run(["cp", "-r", str(digits_folder / "folder"), str(folder)], check=True)
    bad = sorted((folder / "7").iterdir())[5]
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    args = ["stream", "--no-progress", "--data", str(folder), "--max-neurons", "120", "--checkpoint-every", "100"]
    out = memorynet(*args, "--checkpoint", str(tmp_path / "c.mnet"))
    assert out.returncode != 0 and str(bad) in out.stderr and "--skip-bad" in out.stderr
    assert "Traceback" not in out.stderr
    out = memorynet(*args, "--checkpoint", str(tmp_path / "s.mnet"), "--skip-bad")
    assert out.returncode == 0, out.stderr
    assert "skipped   1 unreadable file(s)" in out.stdout
    seen = load_model(tmp_path / "s.mnet")[0][-1].n_samples_seen_
    assert seen in (479, 480)  # 600 files, 20 % kept for testing; the bad one is in either part


def test_a_folder_too_large_to_decode_at_once_is_refused_before_any_image_is_read(digits_folder):
    images = user_data.open_image_folder(digits_folder / "folder")
    huge = user_data.FolderImages(images.files, images.y, images.class_names, (3, 2000, 2000), None, False,
                                  images.files[0])
    with pytest.raises(user_data.UserDataError, match=r"need 6\.7 GiB at once .* stream the folder"):
        huge.read()
