"""End-to-end command-line tests, run as a user would: a subprocess."""

import json
import subprocess
import sys

import pytest


def memorynet(*args, env=None):
    return subprocess.run([sys.executable, "-m", "memorynet.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_help_lists_every_command():
    out = memorynet("--help")
    assert out.returncode == 0
    for command in ["train"]:
        assert command in out.stdout
        sub = memorynet(command, "--help")
        assert sub.returncode == 0 and "--dataset" in sub.stdout


def test_train_on_digits_works_with_no_data(tmp_path):
    out = memorynet("train", "--no-progress", "--max-neurons", "500", "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    assert "accuracy" in out.stdout and "neurons   500 of 500" in out.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["dataset"] == "digits" and result["accuracy"] > 0.9
    assert result["params"]["max_neurons"] == 500 and "version" in result


@pytest.mark.parametrize("args, message", [
    (["--dataset", "imagenet"], "invalid choice"),
    (["--dataset", "mnist", "--data-dir", "/nonexistent/x"], "does not exist"),
    (["--max-neurons", "0"], "'max_neurons' parameter"),
    (["--max-neurons", "5"], "smaller than the number of classes"),
    (["--threshold", "-1"], "'threshold' parameter"),
])
def test_errors_are_one_line_without_traceback(args, message):
    out = memorynet("train", "--no-progress", *args)
    assert out.returncode != 0
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 3  # argparse adds its usage line


def test_train_on_mnist_reaches_95_percent(data_dir, tmp_path):
    out = memorynet("train", "--dataset", "mnist", "--max-neurons", "1000", "--data-dir", str(data_dir),
                    "--no-progress", "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "r.json").read_text())["accuracy"] >= 0.95
