"""The package's wings read from its source: which module stands in which wing, what each says its job is, and
which modules each imports (module-level and inside functions alike). ``tests/test_layers.py`` holds the code to
the rule that a lower wing never imports a higher one; ``docs/architecture.md`` shows the same map, generated.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "memorynet"
PACKAGE = "memorynet"
# From the ground up. The package's own __init__ (the public names) stands between the models and the experiments.
WINGS = ("engine", "io", "models", PACKAGE, "experiments", "apps")
JOBS = {"engine": "banks, kernels, searchers, the one-pass rule: nothing here knows scikit-learn",
        "io": "bytes in and out: data sets, user inputs, the model-file container; no estimator",
        "models": "the estimators, their readout and preprocessing, presets, saving and streaming",
        PACKAGE: "the public names (`from memorynet import ...`)",
        "experiments": "the harness: grids, claims, frontier, continual learning, peers, figures",
        "apps": "what people run: the CLI, the web page, Dask training"}


def modules(src: Path = SRC) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(src.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(src).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def wing(module: str) -> str:
    """The wing a dotted module name stands in (``memorynet.__main__`` is an app)."""
    parts = module.split(".")
    if len(parts) == 1:
        return PACKAGE
    return "apps" if parts[1] == "__main__" else parts[1]


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``module`` imports anywhere in its file (relative imports resolved)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + (node.module.split(".") if node.module else []))
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:  # `from pkg import module` imports that module
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
    return found - {module}


def graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    found = modules(src)
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def upward_imports(src: Path = SRC) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a module imports one of a higher wing."""
    rank = {name: i for i, name in enumerate(WINGS)}
    return sorted((a, b) for a, targets in graph(src).items() for b in targets if rank[wing(b)] > rank[wing(a)])


def _job(path: Path) -> str:
    """The first sentence of a module's docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    return first.split(". ")[0].rstrip(".").replace("|", "\\|")


def markdown(src: Path = SRC) -> str:
    """Every wing, from the ground up: its modules with their one job and the wings each imports."""
    found, edges = modules(src), graph(src)
    out = []
    for name in reversed(WINGS):
        members = [m for m in found if wing(m) == name and not (name == PACKAGE and m != PACKAGE)]
        if name == PACKAGE:
            members = [PACKAGE]
        out += [f"### `{name}`: {JOBS[name]}", "", "| module | its one job | imports from other wings |",
                "|---|---|---|"]
        for m in members:
            below = sorted({wing(t) for t in edges[m]} - {name}, key=WINGS.index)
            shown = m.removeprefix(PACKAGE + ".") if m != PACKAGE else PACKAGE
            out.append(f"| `{shown}` | {_job(found[m])} | {', '.join(below) or '-'} |")
        out.append("")
    return "\n".join(out)
