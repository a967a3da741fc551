"""Streaming with checkpoints: resume after kill -9 at several points gives the uninterrupted model."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from memorynet import MemoryNetworkClassifier
from memorynet.models.persistence import load_model
from memorynet.models.streaming import stream_fit


@pytest.fixture
def stream():
    rng = np.random.default_rng(0)
    X = rng.random((500, 12), dtype=np.float32)
    return X, np.arange(500) % 4


def test_resuming_from_any_checkpoint_gives_the_uninterrupted_model(stream, tmp_path):
    X, y = stream
    whole = stream_fit(MemoryNetworkClassifier(40, batch_size=16), X, y, tmp_path / "a.mnet", every=60,
                       progress=False)
    # Interrupted after 3 chunks: a run that only saw the first 180 samples left this checkpoint.
    stream_fit(MemoryNetworkClassifier(40, batch_size=16), X[:180], y[:180], tmp_path / "b.mnet", every=60,
               classes=np.unique(y), progress=False)
    resumed = stream_fit(MemoryNetworkClassifier(40, batch_size=16), X, y, tmp_path / "b.mnet", every=60,
                         progress=False)
    np.testing.assert_array_equal(resumed.memories_, whole.memories_)
    np.testing.assert_array_equal(resumed.counters_, whole.counters_)
    assert load_model(tmp_path / "b.mnet")[1]["position"] == 500


def test_checkpoint_of_another_stream_is_refused(stream, tmp_path):
    X, y = stream
    stream_fit(MemoryNetworkClassifier(40), X, y, tmp_path / "c.mnet", every=100, identity={"seed": 1},
               progress=False)
    with pytest.raises(ValueError, match="belongs to another stream"):
        stream_fit(MemoryNetworkClassifier(40), X, y, tmp_path / "c.mnet", every=100, identity={"seed": 2},
                   progress=False)


_MODELS = {"paper": ["--batch-size", "8", "--max-neurons", "1500"],
           "mnist-rf": ["--preset", "mnist-rf", "--batch-size", "64", "--max-neurons", "300"],
           "prototype codes": ["--preset", "cifar10-best", "--member", "codes", "--preprocessing", "dog+standardize",
                               "--max-neurons", "32", "--warmup", "1500", "--whiten-images", "700",
                               "--batch-size", "250"]}


_LIMIT = 6000  # images of the stream: 12 checkpoints


def _stream_command(data_dir, checkpoint, model):
    return [sys.executable, "-m", "memorynet", "stream", "--dataset", "mnist", "--data-dir", str(data_dir),
            "--limit", str(_LIMIT), "--checkpoint-every", "500", *_MODELS[model], "--checkpoint", str(checkpoint),
            "--no-progress"]


@pytest.mark.parametrize("model", list(_MODELS))
def test_kill_minus_nine_and_resume_on_mnist(data_dir, tmp_path, model):
    reference = tmp_path / "reference.mnet"
    subprocess.run(_stream_command(data_dir, reference, model), check=True, capture_output=True, timeout=600)
    checkpoint = tmp_path / "killed.mnet"
    positions = []
    # Kill before the first checkpoint, then three times just after a new checkpoint appeared, at various delays
    # (mid-write of the next chunk or of the next checkpoint file).
    for after_checkpoint, delay in ((False, 0.5), (True, 0.0), (True, 0.05), (True, 0.2)):
        before = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
        process = subprocess.Popen(_stream_command(data_dir, checkpoint, model), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while after_checkpoint and time.monotonic() < deadline and process.poll() is None and (
                not checkpoint.exists() or checkpoint.stat().st_mtime_ns == before):
            time.sleep(0.01)
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        if checkpoint.exists():
            positions.append(load_model(checkpoint)[1]["position"])
    assert positions and positions[-1] < _LIMIT, "the stream finished before it could be killed"
    assert positions == sorted(positions)  # nothing learned before a checkpoint was lost
    done = subprocess.run(_stream_command(data_dir, checkpoint, model), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    a, meta_a = load_model(reference)
    b, meta_b = load_model(checkpoint)
    assert meta_a["position"] == meta_b["position"] == _LIMIT
    for bank_a, bank_b in zip(a[-1].banks_, b[-1].banks_, strict=True):
        np.testing.assert_array_equal(bank_a.memories, bank_b.memories)
        np.testing.assert_array_equal(bank_a.counters, bank_b.counters)
        np.testing.assert_array_equal(bank_a.classes, bank_b.classes)
    if hasattr(a[-1], "readout_"):  # the prototype-code model's readout statistics survive too
        for name in ("means_", "counts_", "scatter_tiles_"):
            np.testing.assert_array_equal(getattr(a[-1].readout_, name), getattr(b[-1].readout_, name))
