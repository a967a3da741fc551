"""Dask: data-parallel shards merged by the learning rule, model-parallel positions, Dask-array prediction,
a 2-worker LocalCluster on 127.0.0.1 (always closed), a killed worker, an unreachable scheduler."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from memorynet import (
    LocalReceptiveFieldClassifier,
    MemoryNetworkClassifier,
    PrototypeCodeClassifier,
    datasets,
    scale_pixels,
)
from memorynet.apps import distributed as mdist

da = pytest.importorskip("dask.array", reason="needs pip install 'memorynet[dask]'")


@pytest.fixture(scope="module")
def digits():
    ds = datasets.load("digits")
    return ds.X_train / 16.0, ds.y_train, ds.X_test / 16.0, ds.y_test


@pytest.fixture(scope="module")
def client():
    with mdist.connect(n_workers=2) as client:
        yield client


def _same(a, b):
    assert len(a.banks_) == len(b.banks_) and a.n_samples_seen_ == b.n_samples_seen_
    for p, q in zip(a.banks_, b.banks_):
        np.testing.assert_array_equal(p.memories, q.memories)
        np.testing.assert_array_equal(p.classes, q.classes)
        np.testing.assert_array_equal(p.counters, q.counters)


def test_one_shard_is_plain_fit(digits, client):
    X, y, _, _ = digits
    model = MemoryNetworkClassifier(300, random_state=0)
    fitted = mdist.fit(model, X, y, client=client, n_shards=1)
    _same(fitted, MemoryNetworkClassifier(300, random_state=0).fit(X, y))
    assert fitted.get_params() == model.get_params()  # the user's parameters, shuffle included
    assert mdist.fit(model, X, y, n_shards=3, shard_budget="split").get_params() == model.get_params()


def test_shards_of_one_image_folded_in_order_are_the_paper_rule(digits):
    X, y, _, _ = digits
    model = MemoryNetworkClassifier(40, shuffle=False, batch_size=1)
    _same(mdist.fit(model, X[:100], y[:100], n_shards=100, tree=False), model.fit(X[:100], y[:100]))


def test_the_merge_keeps_every_input_and_the_budget(digits):
    X, y, _, _ = digits
    a = MemoryNetworkClassifier(200, random_state=0).fit(X[:700], y[:700])
    b = MemoryNetworkClassifier(200, random_state=0).fit(X[700:], y[700:])
    merged = mdist.merge(a, b)
    assert merged.n_neurons_ <= 200 and merged.counters_.sum() == len(X) == merged.n_samples_seen_
    _same(a, MemoryNetworkClassifier(200, random_state=0).fit(X[:700], y[:700]))  # the inputs are untouched
    with pytest.raises(ValueError, match="same class and parameters"):
        mdist.merge(a, MemoryNetworkClassifier(100).fit(X, y))


def test_split_budgets_put_the_shards_neurons_side_by_side(digits):
    X, y, X_test, y_test = digits
    model = MemoryNetworkClassifier(400, random_state=0)
    split = mdist.fit(model, X, y, n_shards=4, shard_budget="split")
    assert split.n_neurons_ == 400 and split.counters_.sum() == len(X) and split.max_neurons == 400
    assert split.banks_[0].capacity == 400 and split.score(X_test, y_test) > 0.9
    with pytest.raises(ValueError, match="shard_budget"):
        mdist.fit(model, X, y, shard_budget="half")


def test_cluster_sync_and_repeat_give_the_identical_model(digits, client):
    X, y, X_test, y_test = digits
    model = MemoryNetworkClassifier(300, random_state=1)
    on_cluster = mdist.fit(model, X, y, client=client, n_shards=8)
    _same(on_cluster, mdist.fit(model, X, y, client=client, n_shards=8))
    _same(on_cluster, mdist.fit(model, X, y, n_shards=8))
    plain = MemoryNetworkClassifier(300, random_state=1).fit(X, y)
    assert abs(on_cluster.score(X_test, y_test) - plain.score(X_test, y_test)) < 0.03
    assert on_cluster.counters_.sum() == len(X)


def test_dask_array_shards_and_receptive_fields(digits, client):
    X, y, X_test, y_test = digits
    rf = LocalReceptiveFieldClassifier(4, 2, 100, random_state=0)
    sharded = mdist.fit(rf, da.from_array(X, chunks=(400, 1, 8, 8)), y, client=client)
    assert len(sharded.banks_) == 9 and sharded.n_samples_seen_ == len(X)
    assert sharded.score(X_test, y_test) > 0.9
    _same(mdist.fit_positions(rf, X, y, client=client), rf.fit(X, y))


def test_prediction_on_dask_arrays(digits, client):
    X, y, X_test, y_test = digits
    model = MemoryNetworkClassifier(300, random_state=0).fit(X, y)
    lazy = da.from_array(X_test, chunks=(100, 1, 8, 8))
    predicted = mdist.predict(model, lazy, client=client)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(client.compute(predicted).result(), model.predict(X_test))
    np.testing.assert_allclose(client.compute(mdist.predict_proba(model, lazy, client=client)).result(),
                               model.predict_proba(X_test))
    assert mdist.score(model, lazy, da.from_array(y_test, chunks=100), client=client) == model.score(X_test, y_test)


def test_unreachable_scheduler_is_one_clear_error():
    with pytest.raises(OSError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with mdist.connect("tcp://127.0.0.1:9", timeout="2s"):
            pass


def test_a_killed_worker_changes_nothing(mnist):
    X, y = scale_pixels(mnist.X_train[:24000]), mnist.y_train[:24000]
    model = MemoryNetworkClassifier(2000, random_state=0, batch_size=256)
    reference = mdist.fit(model, X, y, n_shards=8)
    with mdist.connect(n_workers=2) as client:
        pids = client.run(os.getpid)
        killed = []

        def kill_one_worker_once_busy():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(client.processing().values()):
                time.sleep(0.02)
            time.sleep(0.3)
            pid = next(iter(pids.values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(time.monotonic())

        killer = threading.Thread(target=kill_one_worker_once_busy)
        killer.start()
        result = mdist.fit(model, X, y, client=client, n_shards=8)
        finished = time.monotonic()
        killer.join()
    assert killed and killed[0] < finished, "no worker was killed during the fit"
    _same(result, reference)


def test_command_line_trains_on_a_local_cluster_and_names_an_unreachable_scheduler(tmp_path):
    import json
    import subprocess
    import sys

    run = lambda *a: subprocess.run([sys.executable, "-m", "memorynet", "train", "--no-progress", *a],  # noqa
                                    capture_output=True, text=True, timeout=300)
    out = run("--shards", "2", "--max-neurons", "300", "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["shards"] == 2 and result["accuracy"] > 0.9 and "2 shards on LocalCluster" in out.stdout
    out = run("--shards", "0")
    assert out.returncode == 2 and "--shards and --workers must be at least 1" in out.stderr


def test_the_documented_two_worker_example_runs_and_meets_the_target(data_dir, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "cluster.md").read_text()
    script = text.split("```python\n", 1)[1].split("```", 1)[0]
    script = script.replace('"../shared/data"', repr(str(data_dir.resolve())))
    (tmp_path / "example.py").write_text(script)
    out = subprocess.run([sys.executable, str(tmp_path / "example.py")], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) >= 0.969 - 0.003  # within 0.3 points of one stream (96.9 %)


def _codes(**params) -> PrototypeCodeClassifier:
    return PrototypeCodeClassifier(**{"patch_size": 4, "stride": 2, "max_neurons": 16, "warmup": 300,
                                      "whiten_images": 200, "batch_size": 100, "random_state": 0, **params})


def test_prototype_codes_train_in_shards_from_a_shared_start(digits, client):
    """The whitening and warm-up are learnt once; the shards' readout statistics add up exactly and the merged
    dictionaries keep every input, so the sharded model scores like the one-process fit."""
    X, y, X_test, y_test = digits
    X, X_test = X.reshape(-1, 1, 8, 8), X_test.reshape(-1, 1, 8, 8)
    single = _codes().fit(X, y)
    sharded = mdist.fit(_codes(), X, y, client=client, n_shards=3)
    assert sharded.n_samples_seen_ == len(X) and sharded.get_params() == single.get_params()
    assert sharded.readout_.counts_.sum() == single.readout_.counts_.sum() == len(X) - 300
    np.testing.assert_array_equal(sharded.readout_.counts_, single.readout_.counts_)  # same images, same classes
    assert [int(b.counters.sum()) for b in sharded.banks_] == [int(b.counters.sum()) for b in single.banks_]
    assert sharded.score(X_test, y_test) >= single.score(X_test, y_test) - 0.03
    np.testing.assert_array_equal(mdist.fit(_codes(), X, y, n_shards=1).predict(X_test), single.predict(X_test))


def test_a_dask_array_cannot_carry_the_shared_start(digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="give a NumPy array"):
        mdist.fit(_codes(), da.from_array(X.reshape(-1, 1, 8, 8), chunks=(200, 1, 8, 8)), y, n_shards=2)
