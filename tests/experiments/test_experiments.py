"""Experiment grids: declared as data, resumable, parallel (joblib, Dask), and the quick reproduction."""

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from memorynet.experiments import grids as experiments
from memorynet.experiments.grids import Experiment, RunConfig
from memorynet.experiments.thresholds import threshold_from_quantile


def tiny(name="tiny"):
    configs = (RunConfig("small", "digits", 50), RunConfig("threshold", "digits", 500, 0.5))
    return Experiment(name, "digits check", configs, (0, 1), "nothing", (RunConfig("ncm", "digits", model="ncm"),),
                      plot=True)


def test_every_experiment_is_declared_with_its_grid():
    figure2 = experiments.experiment("figure2")
    sizes = sorted({c.max_neurons for c in figure2.configs})
    assert len(sizes) == 14 and sizes[-1] == 50000 and len(figure2.seeds) == 5
    assert {c.label for c in figure2.configs} == {"no threshold", "threshold"}
    cifar = experiments.experiment("cifar10")
    assert len(cifar.configs) >= 8
    assert {c.distance for c in cifar.configs} >= {"l2", "l1"}
    assert {c.preprocessing for c in cifar.configs} >= {"scale", "raw", "standardize", "grayscale"}
    assert {c.channel_voting for c in cifar.configs} == {True, False}
    mnist = experiments.experiment("mnist")
    assert min(c.max_neurons for c in mnist.configs) == 10 and max(c.max_neurons for c in mnist.configs) == 60000
    assert all(c.split == "validation" for c in experiments.experiment("threshold").configs)
    with pytest.raises(ValueError, match="unknown experiment"):
        experiments.experiment("nope")


def test_threshold_from_quantile_is_a_quantile_of_neighbour_distances():
    X = np.array([[0.0], [1.0], [3.0], [10.0], [10.5]], dtype=np.float32)
    y = np.array([0, 0, 0, 1, 1])
    # nearest same-label squared distances: 1, 1, 4 (class 0) and 0.25, 0.25 (class 1)
    assert threshold_from_quantile(X, y, 0.0) == pytest.approx(0.25)
    assert threshold_from_quantile(X, y, 1.0) == pytest.approx(4.0)
    assert threshold_from_quantile(X, y, 0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="quantile"):
        threshold_from_quantile(X, y, 1.5)


def test_runs_are_written_and_resumed(tmp_path):
    exp = tiny()
    runs = experiments.run_experiment(exp, tmp_path, progress=False)
    assert len(runs) == 5  # 2 configs x 2 seeds + 1 baseline
    stored = json.loads((tmp_path / "tiny.json").read_text())["runs"]
    assert len(stored) == 5 and all("machine" in r and "version" in r for r in stored)
    # Drop one run, as if interrupted: only that one is run again.
    (tmp_path / "tiny.json").write_text(json.dumps({"runs": stored[:-1]}))
    again = experiments.run_experiment(exp, tmp_path, progress=False)
    assert len(again) == 5
    assert [r["accuracy"] for r in again[:4]] == [r["accuracy"] for r in stored[:4]]
    paths = experiments.write_report(exp, again, tmp_path)
    assert (tmp_path / "tiny.md").read_text().count("| small") == 1
    assert (tmp_path / "tiny.png").read_bytes()[:4] == b"\x89PNG" and len(paths) == 2


def test_parallel_jobs_give_the_same_results(tmp_path):
    serial = experiments.run_experiment(tiny(), tmp_path / "a", progress=False)
    parallel = experiments.run_experiment(tiny(), tmp_path / "b", jobs=2, progress=False)
    key = lambda r: (json.dumps(r["config"], sort_keys=True), r["seed"])  # noqa: E731
    assert {key(r): r["accuracy"] for r in serial} == {key(r): r["accuracy"] for r in parallel}


def test_dask_cluster_runs_the_grid(tmp_path):
    distributed = pytest.importorskip("dask.distributed", reason="needs pip install 'memorynet[dask]'")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        runs = experiments.run_experiment(tiny(), tmp_path / "dask", scheduler=cluster.scheduler_address,
                                          progress=False)
    serial = experiments.run_experiment(tiny(), tmp_path / "serial", progress=False)
    key = lambda r: (json.dumps(r["config"], sort_keys=True), r["seed"])  # noqa: E731
    assert len(runs) == 5 and {key(r): r["accuracy"] for r in runs} == {key(r): r["accuracy"] for r in serial}


def test_corrupt_results_file_is_set_aside_not_overwritten(tmp_path):
    (tmp_path / "tiny.json").write_text("{not json")
    runs = experiments.run_experiment(tiny(), tmp_path, progress=False)
    aside = list(tmp_path.glob("tiny.corrupt-*.json"))
    assert len(aside) == 1 and aside[0].read_text() == "{not json" and len(runs) == 5
    assert json.loads((tmp_path / "tiny.json").read_text())["runs"]


def _write_many(args):
    import time

    from memorynet.experiments import grids as experiments

    folder, writer, start_at = args
    exp = experiments.Experiment("concurrent", "two writers", (), (0,))
    time.sleep(max(0.0, start_at - time.time()))  # both writers start together, whatever their start-up time
    for seed in range(100):  # many small overlapping writes: without the lock, runs are lost
        config = experiments.RunConfig(f"writer {writer}", "digits")
        experiments._add_run(Path(folder) / "concurrent.json", exp,
                             {"config": asdict(config), "seed": seed, "accuracy": 1.0})


def test_two_writers_into_one_results_file_lose_nothing(tmp_path):
    import json
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        start_at = __import__("time").time() + 3
        pool.map(_write_many, [(str(tmp_path), 0, start_at), (str(tmp_path), 1, start_at)])
    runs = json.loads((tmp_path / "concurrent.json").read_text())["runs"]
    assert len(runs) == 200 and {r["config"]["label"] for r in runs} == {"writer 0", "writer 1"}


@pytest.mark.parametrize("content, problem", [
    ('{"runs": [', "JSONDecodeError"),
    ("[" * 100000 + "]" * 100000, "RecursionError"),
    ('{"runs": [{"config": {}, "seed": 0, "accuracy": NaN}]}', "NaN is not a number"),
    ('{"runs": [{"config": {}, "seed": 0, "accuracy": 7}]}', "an accuracy outside [0, 1]"),
    ('{"settings": {}}', "no 'runs'"),
    ('[1, 2]', "not a JSON object"),
])
def test_a_corrupted_results_file_is_set_aside_not_merged(tmp_path, capsys, content, problem):
    from memorynet.experiments.harness import read_results

    path = tmp_path / "mnist.json"
    path.write_text(content)
    assert read_results(path, ("runs",)) is None
    aside = [p for p in tmp_path.iterdir()]
    assert len(aside) == 1 and aside[0].name.startswith("mnist.corrupt-") and aside[0].read_text() == content
    err = capsys.readouterr().err
    assert str(path) in err and str(aside[0]) in err and problem in err
    path.write_text('{"runs": [], "settings": {"a": 1}}')
    assert read_results(path, ("runs",)) == {"runs": [], "settings": {"a": 1}}


def test_the_frontier_resumes_by_data_set(tmp_path, monkeypatch):
    """A data set whose plan is unchanged keeps its stored runs (no data is even loaded); a changed plan runs."""
    from memorynet.experiments import claims, frontier

    def validate(entry, data, trials):
        scored = [{"dataset": entry.dataset, "label": entry.label, "role": entry.role, "model": entry.model,
                   "params": {**trial, **dict(entry.fixed), "shrinkage": 0.01}, "accuracy": 0.5, "fit_seconds": 1.0}
                  for trial in trials]
        return frontier._choice(scored), scored

    def measure(entry, params, data, seed):
        return {"dataset": entry.dataset, "label": entry.label, "role": entry.role, "seed": seed, "params": params,
                "accuracy": 0.5, "fit_seconds": 1.0, "predict_seconds": 1.0, "peak_bytes": 1, "learnt_values": 1}

    monkeypatch.setattr(frontier, "_validate", validate)
    monkeypatch.setattr(frontier, "_measure", measure)
    monkeypatch.setattr(frontier, "_Data", lambda *a: None)
    stored = json.loads(json.dumps(frontier.run_frontier(quick=True, progress=False)))
    loaded = []
    monkeypatch.setattr(frontier, "_Data", lambda *a: loaded.append(a) or pytest.fail("the data set ran again"))
    result = frontier.run_frontier(quick=True, progress=False, previous=stored)
    assert result["rows"] == stored["rows"] and result["plans"] == stored["plans"] and not loaded
    monkeypatch.setattr(frontier, "QUICK_SEEDS", (0, 1, 2))  # another plan: the data set runs again
    monkeypatch.setattr(frontier, "_Data", lambda *a: (_ for _ in ()).throw(RuntimeError("ran")))
    with pytest.raises(RuntimeError, match="ran"):
        frontier.run_frontier(quick=True, progress=False, previous=stored)
    monkeypatch.setattr(frontier, "QUICK_SEEDS", (0, 1))  # through run_claim: the stored file is kept as it is
    path = tmp_path / "frontier.json"
    path.write_text(json.dumps({**stored, "settings": {"experiment": "frontier", "quick": True}}))
    before = path.read_bytes()
    monkeypatch.setattr(frontier, "figure", lambda result, path: path)
    monkeypatch.setitem(claims.__dict__, "frontier", frontier)
    claims.run_claim("frontier", tmp_path, quick=True, progress=False)
    assert path.read_bytes() == before


def test_the_frontier_reruns_only_the_rows_whose_definition_changed(monkeypatch):
    """A changed row runs again; an unchanged row keeps its validation scores, trial by trial, and its test rows
    while its choice stands; the dictionary rows take the geometry the headline chose."""
    import dataclasses

    from memorynet.experiments import frontier

    ran = []

    def validate(entry, data, trials):
        key = tuple(sorted((k, json.dumps(v)) if isinstance(v, list) else (k, v) for k, v in trials[0].items()))
        ran.append(("validate", entry.label, key if len(trials) == 1 else None))
        scored = [{"dataset": entry.dataset, "label": entry.label, "role": entry.role, "model": entry.model,
                   "params": {**trial, **dict(entry.fixed), "shrinkage": 0.01}, "accuracy": 0.5 + i / 100}
                  for i, trial in enumerate(trials)]
        return frontier._choice(scored), scored

    def measure(entry, params, data, seed):
        ran.append(("measure", entry.label, seed))
        return {"dataset": entry.dataset, "label": entry.label, "role": entry.role, "seed": seed, "params": params,
                "accuracy": 0.5}

    monkeypatch.setattr(frontier, "_Data", lambda *a: None)
    monkeypatch.setattr(frontier, "_validate", validate)
    monkeypatch.setattr(frontier, "_measure", measure)
    first = frontier.run_frontier(quick=True, progress=False)
    headline, *others = [e for e in frontier.entries("mnist", True) if e.model == "codes"]
    chosen = tuple(sorted(frontier.QUICK_CANDIDATES["mnist"][-1].items()))  # the best score of the stub
    assert ("validate", others[0].label, chosen) in ran
    ran.clear()
    changed = frontier.Entry("a new peer", "mnist", "peer", "lda", "scale")
    monkeypatch.setattr(frontier, "entries", lambda name, quick, real=frontier.entries: [*real(name, quick), changed])
    second = frontier.run_frontier(quick=True, progress=False, previous=first)
    assert [r for r in ran if r[0] == "measure"] == [("measure", "a new peer", s) for s in frontier.QUICK_SEEDS]
    assert second["rows"][: len(first["rows"])] == first["rows"] and second["presets"] == first["presets"]
    # other side-by-side weights: the side-by-side row alone runs again (the other rows never read them)
    ran.clear()
    with monkeypatch.context() as patch:
        patch.setitem(frontier.SIDE_WEIGHTS, "mnist", (0.3, 3.0))
        frontier.run_frontier(quick=True, progress=False, previous=second)
    assert {label for _, label, _ in ran} == {frontier.SIDE_BY_SIDE["mnist"]}, ran
    # a new candidate: its trial alone is fitted; while it loses, every row keeps its runs
    ran.clear()
    extra = frontier._grid(6, 2, 32, 1.0, warmup=1000, whiten_images=500)
    monkeypatch.setitem(frontier.QUICK_CANDIDATES, "mnist", (*frontier.QUICK_CANDIDATES["mnist"], extra))
    third = frontier.run_frontier(quick=True, progress=False, previous=second)
    assert ran == [("validate", headline.label, tuple(sorted(extra.items())))]
    assert third["rows"] == second["rows"]
    # once it wins, the headline is measured again and the dictionary rows take its geometry
    ran.clear()
    for score in third["validation"]:
        if score["label"] == headline.label and score["params"]["patch_size"] != 6:
            score["accuracy"] = 0.0
    won = frontier.run_frontier(quick=True, progress=False, previous=third)
    pair = next(e for e in frontier.entries("mnist", True) if e.model == "side-by-side")  # its dictionaries changed
    assert {r for r in ran if r[0] == "validate" and r[1] != pair.label} == {
        ("validate", e.label, tuple(sorted(extra.items()))) for e in others}
    assert {label for kind, label, _ in ran if kind == "measure"} == {headline.label, pair.label,
                                                                       *(e.label for e in others)}
    # a row's own grid grows: its new trial alone is fitted; once it wins, that row alone is measured again
    grid_row, rows_before = next(e for e in frontier.entries("mnist", True) if e.grid), frontier.entries
    ran.clear()
    bigger = frontier._grid(9, 3, 900, None)
    grown = [dataclasses.replace(e, grid=(*e.grid, bigger)) if e == grid_row else e
             for e in frontier.entries("mnist", True)]
    monkeypatch.setattr(frontier, "entries", lambda name, quick: grown)
    fourth = frontier.run_frontier(quick=True, progress=False, previous=won)
    assert [r for r in ran if r[0] == "validate"] == [("validate", grid_row.label, tuple(sorted(bigger.items())))]
    assert {label for kind, label, _ in ran if kind == "measure"} <= {grid_row.label}
    assert [r for r in fourth["rows"] if r["label"] != grid_row.label] == \
        [r for r in won["rows"] if r["label"] != grid_row.label]
    monkeypatch.setattr(frontier, "entries", rows_before)
    # a renamed headline runs its own trials again; the rows that take its unchanged geometry keep theirs
    ran.clear()
    monkeypatch.setitem(frontier.QUICK_CANDIDATES, "mnist", frontier.QUICK_CANDIDATES["mnist"][:-1])
    renamed = [dataclasses.replace(e, label="renamed") if e == headline else e
               for e in frontier.entries("mnist", True)]
    monkeypatch.setattr(frontier, "entries", lambda name, quick: renamed)
    frontier.run_frontier(quick=True, progress=False, previous=second)
    assert {label for kind, label, _ in ran} == {"renamed"}


def test_the_continual_run_keeps_the_rows_of_unchanged_learners(monkeypatch):
    """Resumable by learner: a run given an earlier result measures only the learners whose definition changed
    (a rebound preset), and keeps every other row as it was."""
    from types import SimpleNamespace

    from memorynet.experiments import continual
    from memorynet.experiments.peers import NearestClassMean, StreamingLDA

    labels = np.repeat(np.arange(10), 4)
    data = SimpleNamespace(X_train=np.zeros((40, 2, 2)), y_train=labels, X_test=np.zeros((40, 2, 2)),
                           y_test=labels, pixel_max=1.0)
    learners, ran = {"a": NearestClassMean(), "b": StreamingLDA(0.01)}, []
    monkeypatch.setattr(continual.datasets, "load", lambda name, data_dir, progress: data)
    monkeypatch.setattr(continual, "validation_split_indices", lambda n: (np.arange(20), np.arange(20, n)))
    monkeypatch.setattr(continual, "select_shrinkage", lambda *a: (0.01, {0.01: 1.0}))
    monkeypatch.setattr(continual, "_learners", lambda *a: {k: (m, "flat") for k, m in learners.items()})
    monkeypatch.setattr(continual, "_stream", lambda model, *a: ran.append(model) or (np.eye(5), 1.0, 2.0))
    first = continual.run_continual(quick=True, progress=False)
    assert len(ran) == 2 and {r["model"] for r in first["rows"]} == {"a", "b"}
    ran.clear()
    again = continual.run_continual(quick=True, progress=False, previous=first)
    assert not ran and again["rows"] == first["rows"]
    learners["b"] = StreamingLDA(0.1)  # another definition under the same name: measured again
    third = continual.run_continual(quick=True, progress=False, previous=first)
    assert ran == [learners["b"]] and third["rows"][0] == first["rows"][0] and third["rows"][1] != first["rows"][1]


def test_keep_rows_keeps_the_stored_rows_not_measured_again_and_refuses_to_mix_reduced_and_full(tmp_path):
    from memorynet.experiments.harness import keep_rows

    path = tmp_path / "results.json"
    new = {"quick": False, "rows": [{"name": "b", "value": 3}]}
    assert keep_rows(path, new, lambda r: r["name"]) == new  # nothing stored yet
    path.write_text(json.dumps({"quick": False, "rows": [{"name": "a", "value": 1}, {"name": "b", "value": 2}]}))
    assert keep_rows(path, new, lambda r: r["name"])["rows"] == [{"name": "a", "value": 1}, {"name": "b", "value": 3}]
    with pytest.raises(ValueError, match="holds full rows; keeping them would mix reduced and full runs"):
        keep_rows(path, {**new, "quick": True}, lambda r: r["name"])


def test_the_side_by_side_row_takes_the_fixed_fields_and_the_best_dictionaries(monkeypatch):
    """The pair's fields are frontier.FIELDS_BESIDE (--quick: its grid's first) whatever fields win their own row;
    its dictionaries are the best dictionary row's; side_by_side_choice reads the pair's chain and best weights."""
    from memorynet.experiments import frontier

    def validate(entry, data, trials):  # the last trial of a grid scores best, and the fields beat the pair
        scored = [{"dataset": entry.dataset, "label": entry.label, "role": entry.role, "model": entry.model,
                   "params": {**trial, **dict(entry.fixed)}, "accuracy": (0.9 if entry.model == "receptive-fields"
                                                                          else 0.5) + i / 100}
                  for i, trial in enumerate(trials)]
        return frontier._choice(scored), scored

    monkeypatch.setattr(frontier, "_Data", lambda *a: None)
    monkeypatch.setattr(frontier, "_validate", validate)
    monkeypatch.setattr(frontier, "_measure", lambda entry, params, data, seed: {
        "dataset": entry.dataset, "label": entry.label, "role": entry.role, "seed": seed, "params": params,
        "accuracy": 0.5})
    result = frontier.run_frontier(quick=True, progress=False)
    pair = [v for v in result["validation"] if v["label"] == frontier.SIDE_BY_SIDE["mnist"]]
    codes = max((v for v in result["validation"] if v["model"] == "codes" and v["role"] == "headline"),
                key=lambda v: v["accuracy"])["params"]
    assert {json.dumps(v["params"]["members"]) for v in pair} == {json.dumps(
        [["receptive-fields", frontier.QUICK_DESKEWED_RF_GRID[0]], ["codes", codes]])}
    assert result["presets"]["mnist"]["params"] == frontier.QUICK_DESKEWED_RF_GRID[-1]  # the fields alone won
    best = max(pair, key=lambda v: v["accuracy"])
    assert frontier.side_by_side_choice(result, "mnist") == ("deskew+dog+standardize", best["params"])
    assert frontier._side_by_side("cifar10", codes, quick=False)["members"] == [
        ["codes", codes], ["receptive-fields", frontier.FIELDS_BESIDE["cifar10"]]]
