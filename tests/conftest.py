"""Shared fixtures. Real-data tests need MEMORYNET_DATA; under CI=true its absence is a failure, not a skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memorynet import datasets


def _data_dir() -> Path | None:
    value = os.environ.get("MEMORYNET_DATA")
    return Path(value) if value and (Path(value) / "mnist").is_dir() else None


def pytest_configure(config):
    """Under ``pytest -n 2 --dist loadfile`` the files are handed out in the order of collection (xdist would
    otherwise put files with many tests first, and the quick reproduction last), and each of the two workers
    computes on one core (BLAS, OpenMP and PyTorch threads, its subprocesses too): two workers with a thread per
    core each would spin against one another on a 2-core machine."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    if os.environ.get("PYTEST_XDIST_WORKER"):
        from threadpoolctl import threadpool_limits

        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, "1")
        threadpool_limits(1)


# The files that take longest (seconds of test time measured with --junitxml, longest first): the quick reproduction
# (one fixture of several minutes), the benchmark scripts' quick runs, the command line, ONNX on whole test sets, the
# full-memory reference checks
LONGEST_FIRST = ("experiments/test_claims.py", "test_benchmarks.py", "apps/test_cli.py", "models/test_onnx.py",
                 "models/test_reduction.py", "io/test_user_data.py", "engine/test_quantized.py",
                 "models/test_streaming.py", "apps/test_distributed.py")


def _file_rank(item) -> int:
    """Where the test's file comes in :data:`LONGEST_FIRST` (after all of them if it is not there)."""
    name = item.path.relative_to(Path(__file__).parent).as_posix()
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items):
    """Every test that reaches the benchmark data (through ``data_dir`` or a fixture built on it) carries the
    ``data`` marker: ``pytest -m "not data"`` runs what needs no data, and no test can forget the marker. The
    longest files come first, longest first (each keeps its order within): under ``pytest -n 2 --dist loadfile``
    each worker starts on a long file and the short ones fill in behind, so that no worker is left with a long file
    while the other idles at the end."""
    for item in items:
        if "data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)
    items.sort(key=_file_rank)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Decoded arrays go to one cache per test session, never the user's own cache."""
    monkeypatch.setenv("MEMORYNET_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = _data_dir()
    if found is None:
        message = "MEMORYNET_DATA does not point at the benchmark data (a folder with mnist/ and cifar-10/)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must run the real-data tests")
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def mnist(data_dir, tmp_path_factory):
    os.environ.setdefault("MEMORYNET_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    return datasets.load("mnist", data_dir, progress=False)


@pytest.fixture(scope="session")
def cifar10(data_dir, tmp_path_factory):
    os.environ.setdefault("MEMORYNET_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    return datasets.load("cifar10", data_dir, progress=False)


@pytest.fixture(scope="session")
def quick_results(data_dir, tmp_path_factory) -> Path:
    """`memorynet reproduce --quick` run once, as a user would: the folder of results it wrote."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("quick")
    result = subprocess.run([sys.executable, "-m", "memorynet", "reproduce", "--quick", "--data-dir",
                             str(data_dir), "--out", str(out), "--jobs", "2", "--no-progress"],
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return out

