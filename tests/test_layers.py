"""The package's wings: a lower wing never imports a higher one, and the light entry points stay light."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import wings  # noqa: E402


def test_no_module_imports_a_higher_wing():
    assert wings.upward_imports() == []


def test_every_module_stands_in_a_wing():
    assert {wings.wing(m) for m in wings.modules()} <= set(wings.WINGS)


def test_an_upward_import_is_caught(tmp_path):
    fake = tmp_path / "memorynet"
    (fake / "engine").mkdir(parents=True)
    (fake / "apps").mkdir()
    for init in (fake / "__init__.py", fake / "engine" / "__init__.py", fake / "apps" / "__init__.py"):
        init.write_text("")
    (fake / "apps" / "cli.py").write_text("")
    (fake / "engine" / "bank.py").write_text("def f():\n    from ..apps import cli\n")
    assert wings.upward_imports(fake) == [("memorynet.engine.bank", "memorynet.apps.cli")]


@pytest.mark.parametrize("statement", [
    "import memorynet",
    "from memorynet import MemoryNetworkClassifier, LocalReceptiveFieldClassifier, PrototypeCodeClassifier",
    "from memorynet import load_model, preset, datasets",
])
def test_the_library_imports_neither_matplotlib_nor_the_harness(statement):
    code = (f"{statement}; import sys; print(sorted(m for m in sys.modules if m.startswith('matplotlib') "
            "or m.startswith(('memorynet.experiments', 'memorynet.apps'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
