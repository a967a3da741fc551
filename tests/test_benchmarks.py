"""CI runs the benchmark suite's smoke version: every system runs and every figure is produced (no timings)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memorynet.experiments import frontier

ROOT = Path(__file__).resolve().parents[1]
_FRONTIER = json.loads((ROOT / "docs" / "data" / "frontier.json").read_text())


def test_benchmark_smoke(data_dir, tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_benchmarks.py"), "--smoke", "--data-dir",
                          str(data_dir), "--out", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads((tmp_path / "benchmarks.json").read_text())
    assert next(iter(results)) == "systems"  # the sections in the order measured, not sorted (the site draws from it)
    systems = {r["system"] for r in results["systems"]}
    assert systems == {"memorynet", "faiss-flat-l2", "knn-brute", "nearest-centroid", "mlp-1-epoch", "mlp-converged"}
    assert all(r["train_seconds"] >= 0 and r["images_per_second"] > 0 and 0 < r["accuracy"] <= 1
               for r in results["systems"])
    assert results["float64"]["differing_predictions"] <= 5
    # FAISS over the same bank finds the same nearest neurons, so the same accuracy.
    by = {(r["dataset"], r["system"], r.get("backend")): r for r in results["systems"] if r.get("max_neurons") == 3000}
    assert by[("mnist", "faiss-flat-l2", None)]["accuracy"] == by[("mnist", "memorynet", None)]["accuracy"]
    report = (tmp_path / "benchmarks.md").read_text()
    assert "BLAS limit" in report and "| target | ratio | target | result |" in report
    # 2 x FAISS, training, 2 presets x 2, both -best presets x 3, and int8 where PyTorch and int8 instructions are
    # here (else a row says so)
    engines = set(results["search"][0]["seconds"])
    assert engines in ({"faiss", "numpy"}, {"faiss", "numpy", "int8"})
    assert report.count("| met |") + report.count("| missed |") == 13 + ("int8" in engines)
    assert ("no int8 instructions here" in report) == ("int8" not in engines)
    for search in results["search"]:  # the engines agree over the same bank
        assert search["differing_from_faiss"] == dict.fromkeys(engines, 0)
    assert {r["preset"] for r in results["presets"]} == {"mnist-rf", "cifar10-rf"}
    assert all(r["predict_ratio"] > 0 and r["fit_ratio"] > 0 for r in results["presets"])
    # the class distances through int8 (exact) against float32: the same predictions but for float32's near-ties
    assert [r["preset"] for r in results["class_distances"]] == ["mnist-rf", "cifar10-rf", "mnist-best"]
    for row in results["class_distances"]:
        assert set(row["seconds"]) == engines - {"faiss"} and row["neurons_per_position"] > 0
        assert row["identical"] is None if "int8" not in engines else row["identical"] >= 0.99
    assert "float32 class distances s" in report
    assert [r["preset"] for r in results["best"]] == ["mnist-best", "cifar10-best"]
    assert all(r["accuracy"] > 0.2 and r["images_per_second"] > 0 and r["peak_working_mb"] > 0
               and r["served_images_per_second"] > 0
               for r in results["best"]) and "the frontier's winner" in report
    # --only best: those rows again, every other section kept as it was; never over a run of the other size
    again = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_benchmarks.py"), "--smoke", "--only", "best",
                            "--data-dir", str(data_dir), "--out", str(tmp_path)], capture_output=True, text=True,
                           timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    rerun = json.loads((tmp_path / "benchmarks.json").read_text())
    assert {k: v for k, v in rerun.items() if k != "best"} == {k: v for k, v in results.items() if k != "best"}
    assert [r["preset"] for r in rerun["best"]] == ["mnist-best", "cifar10-best"] and rerun["best"] != results["best"]
    full = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_benchmarks.py"), "--only", "best",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert full.returncode != 0 and "holds a smoke run" in full.stderr


def _quick_probe(name: str, data_dir, tmp_path, *options: str) -> dict:
    """``benchmarks/<name>.py --quick`` run as a user would; its results file."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--quick", "--data-dir",
                          str(data_dir), "--out", str(tmp_path), *options], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads((tmp_path / f"{name}.json").read_text())


def _benchmark_module(name: str):
    """``benchmarks/<name>.py`` imported as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_targets_say_when_a_preset_has_no_training_products_to_compare():
    """A preset with room for every image never searches a full memory while it trains: its fit target says so
    instead of vanishing from the table, and its prediction target is still measured."""
    module = _benchmark_module("run_benchmarks")
    results = {"search": [{"max_neurons": 10, "seconds": {"faiss": 1.0, "numpy": 1.0}}],
               "training": {"max_neurons": 10, "ratio": 1.5},
               "presets": [{"preset": "cifar10-rf", "predict_ratio": 1.2, "fit_ratio": None}]}
    table = module.targets(results)
    assert "| cifar10-rf predict vs its distance products | 1.20 | <= 1.5 | met |" in table
    assert "| cifar10-rf fit vs its distance products | — | <= 2.0 | no products: the memory never fills" in table


def test_readout_probe_quick(data_dir, tmp_path):
    """The probe's summed distances are those of mnist-best's receptive fields fit on the same images in the same
    order (its chunks are whole batches): the same accuracy, to the image; both learnt readouts are classifiers of
    their own, scored at every shrinkage, and in the table."""
    result = _quick_probe("readout_probe", data_dir, tmp_path, "--preset", "mnist-best", "--chunk", "1024",
                          "--warmup", "2048")
    assert result["n_fit"] == 6000 and result["n_validation"] == 1000 and result["preset"] == "mnist-best"
    probe = _benchmark_module("readout_probe")
    model, X, y, X_val, y_val = probe.validation_split(str(data_dir), True, "mnist-best")
    fitted = model[-1].set_params(shuffle=False, batch_size=1024).fit(X, y)
    assert result["validation_summed_distances"] == float(np.mean(fitted.predict(X_val) == y_val))
    for readout in ("validation_lda_readout", "validation_position_weights"):
        scores = result[readout]
        assert [float(s) for s in scores] == list(probe.SHRINKAGES) and all(a > 0.8 for a in scores.values())
    assert probe.markdown(result).count("| summed distances, a learnt weight per position |") == len(probe.SHRINKAGES)
    with pytest.raises(ValueError, match="smaller --warmup"):
        probe.run(str(data_dir), True, 1024, 6000, "mnist-best")


def test_position_weights_favour_the_informative_position():
    """Fisher's weights between the true class's distances and the others': a position whose distances separate
    the classes outweighs one of noise; at shrinkage 1 they follow the difference of the two groups' means; an
    image with a class of no neuron is left out."""
    probe = _benchmark_module("readout_probe")
    rng = np.random.default_rng(0)
    n, classes = 2000, 4
    y = rng.integers(0, classes, n)
    D = rng.uniform(1.0, 2.0, size=(n, 3, classes))
    D[np.arange(n), 0, y] -= 0.8  # position 0 tells the class; positions 1 and 2 are noise
    D[np.arange(n), 1, y] -= 0.1
    weights = probe.PositionWeights(3).partial_fit(D, y)
    w = weights.weights(0.01)
    assert w[0] > 5 * abs(w[2]) and w[0] > w[1] and np.isclose(w.sum(), 3)
    gap = (D.transpose(0, 2, 1)[np.arange(classes) != y[:, None]].mean(axis=0)
           - D[np.arange(n), :, y].mean(axis=0))
    np.testing.assert_allclose(weights.weights(1.0), 3 * gap / gap.sum(), rtol=1e-9)
    with_gap = np.concatenate([D, np.full((1, 3, classes), np.inf)])
    again = probe.PositionWeights(3).partial_fit(with_gap, np.r_[y, 0])
    assert again.counts.tolist() == weights.counts.tolist() == [n, n * (classes - 1)]


_PAIR_WEIGHTS = frontier.side_by_side_choice(_FRONTIER, "mnist")[1]["weights"]  # the fields, then the dictionaries


def _assert_ranked_weightings(result: dict, probe) -> None:
    """A weighting probe's kept scores: best first, as many as it keeps, the best at least the frontier's pair's, and
    the pair in its table."""
    kept = [s["accuracy"] for s in result["scores"]]
    assert kept == sorted(kept, reverse=True) and result["best"] == result["scores"][0] and len(kept) == probe.KEPT
    assert result["best"]["accuracy"] >= result["preset_pair"]["accuracy"]
    assert "| the frontier's pair" in probe.markdown(result)


def test_multiscale_probe_quick(data_dir, tmp_path):
    """The multi-scale probe scores every weighting of its members' evidence on validation; the frontier's pair is the
    weighting that gives the extra scales nothing, and a member alone is its evidence's argmax."""
    result = _quick_probe("multiscale_probe", data_dir, tmp_path)
    probe = _benchmark_module("multiscale_probe")
    assert result["quick"] and len(result["members"]) == 7 and result["n_weightings"] == 4 ** 6
    assert result["preset_pair"]["weights"] == [*_PAIR_WEIGHTS, 0.0, 0.0, 0.0, 0.0, 0.0]
    _assert_ranked_weightings(result, probe)
    assert all(accuracy > 0.9 for accuracy in result["each_member_alone"])  # chance: 0.1


def test_field_chains_probe_quick(data_dir, tmp_path):
    """The fixed-chain probe adds to the frontier's pair its receptive fields under each other chain and distance; the
    pair is the weighting that gives the variants nothing, and every model alone is far above chance."""
    result = _quick_probe("field_chains_probe", data_dir, tmp_path)
    probe = _benchmark_module("field_chains_probe")
    variants = result["members"][2:]
    assert result["quick"] and len(variants) == len(probe.VARIANTS) and result["n_weightings"] == 4 ** 4
    assert [(kind, params["distance"]) for kind, params in variants] == [
        (f"receptive-fields on {chain}", distance) for chain, distance in probe.VARIANTS]
    assert result["preset_pair"]["weights"] == [*_PAIR_WEIGHTS, 0.0, 0.0, 0.0]
    _assert_ranked_weightings(result, probe)
    assert all(accuracy > 0.85 for accuracy in result["each_member_alone"])  # chance: 0.1


def test_field_jitter_probe_quick(data_dir, tmp_path):
    """Every geometry is scored with room for every patch it is taught (none merged); jittered banks hold the
    patches around their position, several times the plain banks' neurons on the same grid."""
    result = _quick_probe("field_jitter_probe", data_dir, tmp_path)
    probe = _benchmark_module("field_jitter_probe")
    rows = result["rows"]
    assert result["quick"] and [(r["patch_size"], r["stride"], r["patch_jitter"]) for r in rows] == list(
        probe.GEOMETRIES)
    assert all(r["merged"] == 0 and r["accuracy"] > 0.8 for r in rows)  # chance: 0.1
    neurons = {(r["stride"], r["patch_jitter"]): r["neurons"] for r in rows}
    assert neurons[(6, 1)] > 4 * neurons[(6, 0)] == 4 * 16 * result["n_fit"]
    peak = {(r["stride"], r["patch_jitter"]): r["peak_mb"] for r in rows}  # the extra memories are traced:
    extra_mb = (neurons[(6, 1)] - neurons[(6, 0)]) * 10 * 10 * 4 / 2**20  # float32 patches of 10 x 10
    assert peak[(6, 1)] > peak[(6, 0)] + extra_mb / 2
    assert all(r["fit_seconds"] > 0 and r["predict_seconds"] > 0 for r in rows)
    assert "| 10 | 6 | 1 | 16 |" in probe.markdown(result)
    assert probe.room_for_every_patch(np.array([0, 0, 1, 2]), 1) == 9 * 3 * 2


def test_field_neighbours_probe_quick(data_dir, tmp_path):
    """The neighbours probe's nearest-neuron reading, recomputed, takes the model's own decision on every image; each
    reading is scored alone and beside the dictionaries at every weight; its kernel sorts each class's nearest
    distances as a brute-force search does."""
    result = _quick_probe("field_neighbours_probe", data_dir, tmp_path)
    probe = _benchmark_module("field_neighbours_probe")
    assert result["quick"] and result["nearest_one_agrees"] == 1.0
    assert [(r["reading"], r["neighbours"]) for r in result["rows"]] == [
        (name, k) for name in probe.READINGS for k in probe.NEIGHBOURS]
    assert all([b["weight"] for b in r["beside"]] == list(probe.WEIGHTS) for r in result["rows"])
    assert all(r["alone"] > 0.85 for r in result["rows"])  # chance: 0.1
    assert "| squared L2 | 1 |" in probe.markdown(result)
    rng = np.random.default_rng(0)
    rows, memories = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(9, 3)).astype(np.float32)
    classes = np.array([0, 1, 0, 0, 1, 0, 0, 1, 0])  # class 2 has no neuron
    found = probe.nearest_per_class_sorted(rows, memories, classes, 3, deepest=4)
    squared = ((rows[:, None, :].astype(np.float64) - memories[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(found[:, 0], np.sort(squared[:, classes == 0], axis=1)[:, :4], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(found[:, 1, :3], np.sort(squared[:, classes == 1], axis=1), rtol=1e-5, atol=1e-5)
    assert np.isinf(found[:, 1, 3]).all() and np.isinf(found[:, 2]).all()


def test_readout_pca_probe_quick(data_dir, tmp_path):
    """The readout probe learns every readout from the same codes: the control sees all of them, each projection
    fewer, and all learn far above chance."""
    result = _quick_probe("readout_pca_probe", data_dir, tmp_path)
    probe = _benchmark_module("readout_pca_probe")
    assert result["quick"] and [r["components"] for r in result["rows"]] == [8, 16, None]
    assert [r["features"] for r in result["rows"]] == [8 * 49, 16 * 49, 32 * 49]
    assert all(max(r["accuracy"].values()) > 0.3 for r in result["rows"])  # chance: 0.1
    codes = np.random.default_rng(0).normal(size=(300, 12)).astype(np.float32)
    found = probe.position_components(codes, 3, 2)
    assert len(found) == 3 and probe.projected(codes, found).shape == (300, 6)
    np.testing.assert_allclose(probe.projected(codes, found).mean(axis=0), 0, atol=1e-5)  # centred per position
    assert "all (the control)" in probe.markdown(result)


def test_second_layer_probe_quick(data_dir, tmp_path):
    """The second-layer probe reads the first layer's codes as maps of prototype channels over the grid of
    positions; its three readouts learn the same images, each far above chance."""
    result = _quick_probe("second_layer_probe", data_dir, tmp_path)
    probe = _benchmark_module("second_layer_probe")
    assert result["quick"] and result["positions"] == 49 and result["positions2"] == 36  # 7 x 7, then 6 x 6
    first, second = result["prototypes"], result["layer2"]["max_neurons"]
    assert [r["features"] for r in result["rows"]] == [49 * first, 36 * second, 49 * first + 36 * second]
    assert all(max(r["accuracy"].values()) > 0.25 for r in result["rows"])  # chance: 0.1
    codes = np.arange(2 * 2 * 3 * 4, dtype=np.float32).reshape(2, 24)  # 2 images, 2 x 3 positions, 4 prototypes
    maps = probe.code_maps(codes, (2, 3), 0.5).reshape(2, 4, 2, 3)
    for k, r, c in np.ndindex(4, 2, 3):
        np.testing.assert_array_equal(maps[:, k, r, c], 0.5 * codes[:, (r * 3 + c) * 4 + k])
    assert "| both side by side |" in probe.markdown(result)


def test_side_by_side_probe_quick(data_dir, tmp_path):
    """The CIFAR-10 side-by-side probe scores every weighting of its members' evidence; a member alone is its
    evidence's argmax, and the dictionaries alone are the weighting that gives the fields nothing."""
    result = _quick_probe("side_by_side_probe", data_dir, tmp_path)
    probe = _benchmark_module("side_by_side_probe")
    assert result["quick"] and [kind for kind, _ in result["members"]] == ["codes", "receptive-fields",
                                                                         "receptive-fields"]
    assert result["n_weightings"] == len(probe.FIELD_WEIGHTS) ** 2 == len(result["scores"])
    dictionaries = next(s for s in result["scores"] if s["weights"] == [1.0, 0.0, 0.0])
    assert dictionaries["accuracy"] == result["each_member_alone"][0]
    assert result["best"]["accuracy"] == max(s["accuracy"] for s in result["scores"])
    for m, row in enumerate(result["best_with_each_field"]):  # exactly one field member weighted
        assert [w > 0 for w in row["weights"][1:]] == [i == m for i in range(2)]
    assert all(accuracy > 0.25 for accuracy in result["each_member_alone"])  # chance: 0.1
    # every weighting scored after the class-ordered stream too, each member far above chance there as well
    assert all(0 < s["class_ordered_accuracy"] <= 1 for s in result["scores"])
    assert all(accuracy > 0.25 for accuracy in result["each_member_alone_class_ordered"])
    table = probe.markdown(result)
    assert "| the best of the" in table and "after a class-ordered stream |" in table
    best = next(line for line in table.splitlines() if line.startswith("| the best of the"))
    assert best.endswith(f"| {100 * result['best']['class_ordered_accuracy']:.2f} % |")


def test_gpu_table_smoke(data_dir, tmp_path):
    """The GPU table's script runs end to end (torch on the CPU here) and its table is the site's."""
    pytest.importorskip("torch", reason="the GPU table's script needs PyTorch: pip install torch==2.13.0 (the CPU "
                        "build; .ci/run installs it)")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_table.py"), "--smoke", "--data-dir",
                          str(data_dir), "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads((tmp_path / "gpu.json").read_text())
    assert results["smoke"] and len(results["rows"]) == 2 and results["revision"]
    for row in results["rows"]:  # same model on both engines: same accuracy up to near-ties of float32 rounding
        assert row["same_predictions"] >= 0.99 and abs(row["cpu_accuracy"] - row["gpu_accuracy"]) <= 0.01
        assert row["cpu_accuracy"] > 0.8 and min(row["cpu_fit_s"], row["gpu_predict_s"]) > 0
    assert "| mnist | mnist-rf preset, 500 neurons |" in out.stdout and results["complete"]
    table = _benchmark_module("gpu_table")
    assert [case[1] for case in table.cases(False, ["best"])] == ["mnist-best preset", "cifar10-best preset"]
    with pytest.raises(SystemExit, match="no row"):
        table.cases(False, ["nothing"])
    assert "A partial run" in table.markdown({**results, "complete": False})



def test_onnx_runtime_quick(data_dir, tmp_path):
    """The ONNX benchmark's rows: ONNX Runtime labels the test images as the package does, at a measured rate."""
    pytest.importorskip("onnxruntime", reason="the ONNX benchmark needs pip install 'memorynet[onnx]'")
    result = _quick_probe("onnx_runtime", data_dir, tmp_path)
    assert [r["preset"] for r in result["rows"]] == ["paper", "cifar10-rf"]
    for row in result["rows"]:
        assert row["n_test"] == row["onnx_batch"] == 2000 and row["identical"] >= 0.999
        assert abs(row["accuracy_onnx"] - row["accuracy_package"]) <= 1 - row["identical"]
        assert row["images_per_second_onnx"] > 0 and row["images_per_second_package"] > 0
    assert "| `cifar10-rf` | cifar10 |" in (tmp_path / "onnx_runtime.md").read_text()


def test_class_order_quick(data_dir, tmp_path):
    """Every protocol of the class-order benchmark runs; the defaults keep their promise at a twelfth of the scale:
    the class-ordered streams within 2 points of i.i.d., no class of the other orders losing more than 10."""
    result = _quick_probe("class_order", data_dir, tmp_path)
    rows = {(r["preset"], r["protocol"]): r for r in result["rows"]}
    for name in ("paper", "mnist-rf"):
        iid = rows[(name, "iid")]
        for protocol in ("ordered fit", "declared", "unannounced"):
            assert rows[(name, protocol)]["accuracy"] >= iid["accuracy"] - 0.02, (name, protocol)
        for order, reference in (("one class per task", "iid"), ("two cycles", "iid"), ("long tail", "long tail iid")):
            loss = np.subtract(rows[(name, reference)]["class_accuracy"], rows[(name, order)]["class_accuracy"])
            assert loss.max() <= 0.10, (name, order, loss)
    assert "one class per task" in (tmp_path / "class_order.md").read_text()


def test_class_order_rows_name_the_parameters_that_differ_from_their_preset(tmp_path):
    """A row records the configuration it was measured with; the table names what is not the preset's (a row
    measured with ``--set``, or before the preset was rebound), so rows of different models never share a line."""
    from memorynet.models.presets import configuration

    order = _benchmark_module("class_order")
    assert order._setting("max_neurons=512") == ("max_neurons", 512)
    assert order._setting("class_budget=fair") == ("class_budget", "fair")
    plain, bigger = configuration("cifar10-best"), configuration("cifar10-best", {"max_neurons": 1024})
    rows = [{"preset": "cifar10-best", "params": params, "dataset": "cifar10", "protocol": "iid", "seed": 0,
             "accuracy": acc, "class_accuracy": [acc]} for params, acc in ((plain, 0.6), (bigger, 0.7))]
    table = order.markdown({"quick": False, "rows": rows})
    assert "| `cifar10-best` | cifar10 | 1 | 60.0 |" in table  # one seed: no spread to show
    assert "| `cifar10-best (max_neurons=1024)` | cifar10 | 1 | 70.0 |" in table
    ordered = [{**rows[0], "protocol": "declared", "seed": seed, "accuracy": acc}
               for seed, acc in ((0, 0.6), (1, 0.62))]  # no i.i.d. run: no drop
    assert "| `cifar10-best` | cifar10 | 2 | not measured | 61.0 ± 1.0 | — |" in order.markdown(
        {"quick": False, "rows": [rows[1], *ordered]})
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "class_order.py"), "--set", "whiten_eps=2",
                          "--presets", "paper", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "not a parameter of the estimator of paper" in out.stderr


def test_serve_load_quick(tmp_path):
    """16 concurrent clients against the served page: no error, no lesson lost, memory flat."""
    pytest.importorskip("uvicorn", reason="memorynet serve needs pip install 'memorynet[serve]'")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serve_load.py"), "--quick", "--out",
                          str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "serve_load.json").read_text())
    assert result["errors"] == 0 and result["lessons_recorded"] == result["lessons"] == 40
    assert result["rss_after_mib"] - result["rss_before_mib"] < 50
    assert 0 < result["predict_ms_p50"] <= result["predict_ms_p99"]


def test_stream_memory_quick(tmp_path):
    """stream --data FOLDER holds one chunk at a time: its peak memory barely grows with the folder, train's does."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "stream_memory.py"), "--quick", "--out",
                          str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    small, large = json.loads((tmp_path / "stream_memory.json").read_text())["rows"]
    stream_growth = large["stream_peak_mib"] - small["stream_peak_mib"]
    train_growth = large["train_peak_mib"] - small["train_peak_mib"]
    assert stream_growth < 25 and train_growth > 2 * max(stream_growth, 10), (stream_growth, train_growth)


@pytest.mark.parametrize("name", ["cifar10-best", "cifar10-rf"])
def test_fit_profile_quick(data_dir, tmp_path, name):
    """The profile splits a real fit and prediction into its phases (each of the preset's ran, and together they
    take no more than the whole, since they do not nest) and lists the functions with the most own time."""
    result = _quick_probe("fit_profile", data_dir, tmp_path, "--preset", name)
    total = result["fit_seconds"] + result["predict_seconds"]
    assert result["preset"] == name and result["n_train"] == 2000 and result["accuracy"] > 0.2
    fields = "receptive fields' class distances (prediction)"
    ran = {phase for phase, seconds in result["phases"].items() if seconds > 0}
    assert ran == (set(result["phases"]) if name == "cifar10-best" else {fields}), result["phases"]
    assert all(seconds <= total for seconds in result["phases"].values()) and sum(result["phases"].values()) <= total
    own = [row["own_seconds"] for row in result["top"]]
    assert len(own) == 8 and own == sorted(own, reverse=True) and sum(own) <= total
    table = (tmp_path / "fit_profile.md").read_text()
    assert ("| readout statistics |" in table) == (name == "cifar10-best") and "| function (most time" in table
    assert f"| {fields} |" in table
