"""Atomic writes of several files: all complete and checked before any replaces its target, or none."""

from __future__ import annotations

import os
import subprocess

import pytest

from memorynet.io.atomic import atomic_write_all


def _writer(data: bytes):
    return lambda fh: fh.write(data)


def test_every_file_is_replaced_in_order_once_all_are_written_and_checked(tmp_path):
    first, second = tmp_path / "m.onnx.data", tmp_path / "m.onnx"
    first.write_bytes(b"old data")
    first.chmod(0o640)
    seen = []
    atomic_write_all([(first, _writer(b"new data")), (second, _writer(b"graph"))],
                     check=lambda staged: seen.extend((p.name, p.read_bytes(), p.parent != tmp_path) for p in staged))
    assert seen == [("m.onnx.data", b"new data", True), ("m.onnx", b"graph", True)]
    assert first.read_bytes() == b"new data" and second.read_bytes() == b"graph"
    assert first.stat().st_mode & 0o777 == 0o640  # the replaced file keeps its permissions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.data"]


@pytest.mark.parametrize("failure", ["write", "check"])
def test_a_failed_write_or_check_touches_no_target(tmp_path, failure):
    first, second = tmp_path / "a.data", tmp_path / "a"
    first.write_bytes(b"old data")
    second.write_bytes(b"old graph")

    def broken(fh):
        fh.write(b"partial")
        raise OSError("disk full")

    def refuse(staged):
        raise ValueError("the checker refused the pair")

    files = [(first, _writer(b"new data")), (second, broken if failure == "write" else _writer(b"new graph"))]
    with pytest.raises(OSError if failure == "write" else ValueError):
        atomic_write_all(files, check=refuse)
    assert first.read_bytes() == b"old data" and second.read_bytes() == b"old graph"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "a.data"]


def test_files_in_two_folders_are_refused(tmp_path):
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match="one folder"):
        atomic_write_all([(tmp_path / "a", _writer(b"x")), (tmp_path / "sub" / "b", _writer(b"y"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]


def test_the_folder_a_killed_write_left_is_removed_by_the_next(tmp_path):
    dead = subprocess.Popen(["true"])  # a process that has ended: its pid names no live process
    dead.wait()
    left = tmp_path / f".m.onnx.data.{dead.pid}.abc123.tmp"
    left.mkdir()
    (left / "m.onnx.data").write_bytes(b"half the tensors")
    live = tmp_path / f".m.onnx.data.{os.getpid()}.live.tmp"  # a live process's write in progress: kept
    live.mkdir()
    atomic_write_all([(tmp_path / "m.onnx.data", _writer(b"data")), (tmp_path / "m.onnx", _writer(b"graph"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "m.onnx", "m.onnx.data"]
