"""The documentation site: a strict build, and result pages whose every number comes from a results file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import memorynet

ROOT = Path(__file__).resolve().parents[1]
DOCS, DATA = ROOT / "docs", ROOT / "docs" / "data"
sys.path.insert(0, str(DOCS))  # the generator lives beside the pages it fills
import generate as site  # noqa: E402

RESULT_PAGES = sorted((DOCS / "results").glob("*.md")) + [DOCS / "benchmarks.md", DOCS / "cluster.md"]
_NAMES = re.compile(r"CIFAR-10|1-NN|Figure 2|float32|float64|\b(?:19|20)\d\d\b|2409\.17282")  # names and citations
_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+")
_CONSTANTS = {"1.05", "1.5", "0.65"}  # speed targets, declared in the benchmark scripts


def _perturbed(value, rng: np.random.Generator, inside_config: bool = False, key: str = ""):
    """The results file with every measured value changed (configurations and counts left as they are), by factors
    drawn from ``rng`` (one per file, seeded by its name: a file's perturbation does not depend on the others)."""
    if isinstance(value, dict):
        return {k: _perturbed(v, rng, inside_config or k in ("config", "settings"), k) for k, v in value.items()}
    if isinstance(value, list):
        return [_perturbed(v, rng, inside_config, key) for v in value]
    if inside_config or isinstance(value, bool):
        return value
    if isinstance(value, int) and key.endswith("bytes"):  # measured sizes
        return 2 * value + 3
    return value * rng.uniform(0.5, 0.9) + 0.0137 if isinstance(value, float) else value


def test_the_site_builds_strictly_without_the_network(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    pages = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("index.html")}
    assert {"index.html", "explained/index.html", "api/index.html", "guide/cli/index.html",
            "results/continual/index.html", "benchmarks/index.html", "serve/index.html"} <= pages
    html = (tmp_path / "site" / "results" / "continual" / "index.html").read_text()
    assert "streaming LDA" in html and "<!-- generated" not in html
    assert "fonts.googleapis" not in (tmp_path / "site" / "index.html").read_text()
    assert (tmp_path / "site" / "img" / "explained.png").exists()


@pytest.mark.parametrize("page", RESULT_PAGES, ids=lambda p: p.name)
def test_result_pages_type_no_number_and_every_measured_figure_follows_its_results_file(page, tmp_path):
    source = page.read_text()
    prose = _NAMES.sub("", re.sub(r"```.*?```|`[^`]*`|<!--.*?-->|\]\([^)]*\)", "", source, flags=re.S))
    typed = re.findall(r".{0,30}\d.{0,30}", prose)
    assert not typed, f"{page.name} types numbers by hand: {typed}"
    verbatim = set()  # numbers the results files hold as they are printed (e.g. the configurations)
    for path in DATA.glob("*.json"):  # the same results, every measured value changed
        results = json.loads(path.read_text())
        verbatim |= site.numbers_in(results)
        rng = np.random.default_rng(zlib.crc32(path.name.encode()))
        (tmp_path / path.name).write_text(json.dumps(_perturbed(results, rng)))
    for marker in site.MARKER.finditer(source):
        real = _DECIMAL.findall(site.generate(marker.group("what"), marker.group("arg"), DATA))
        changed = _DECIMAL.findall(site.generate(marker.group("what"), marker.group("arg"), tmp_path))
        assert real, f"{marker.group(0)} shows no measured figure"
        fixed = {a for a, b in zip(real, changed) if a == b} if len(real) == len(changed) else set(real) & set(changed)
        fixed = {a for a in fixed if float(a) != 0 and a not in verbatim}  # zero spread; configurations
        # a figure that stays when every measurement changes was typed, not measured
        assert not fixed - _CONSTANTS, f"{marker.group(0)}: {sorted(fixed - _CONSTANTS)[:20]}"


def test_the_cli_reference_lists_every_command_and_option_of_the_installed_cli():
    """Against what a user's ``memorynet <command> --help`` prints (another process, another renderer)."""
    text = site.cli_reference()
    top = subprocess.run([sys.executable, "-m", "memorynet", "--help"], capture_output=True, text=True, check=True)
    listing = top.stdout.split("COMMAND\n", 2)[-1].split("\noptions:")[0]
    commands = re.findall(r"^    ([a-z][\w-]*)", listing, re.M)
    sections = dict(re.findall(r"## `memorynet ([\w-]+)`\n(.*?)(?=\n## |\Z)", text, re.S))
    assert set(sections) == set(commands)
    # every command's --help as the installed CLI prints it, all from one more process
    script = ("import sys\nfrom memorynet.apps.cli import main\nfor name in sys.argv[1:]:\n"
              "    try:\n        main([name, '--help'])\n    except SystemExit:\n        print('\\f', flush=True)")
    printed = subprocess.run([sys.executable, "-c", script, *commands], capture_output=True, text=True,
                             check=True).stdout.split("\f\n")
    assert len(printed) == len(commands) + 1
    for name, helped in zip(commands, printed):
        option_lines = re.findall(r"^  (-.*)$", helped, re.M)  # "  -h, --help", "  --flag, --no-flag VALUE"
        flags = {f for line in option_lines for f in re.findall(r"(?<![\w-])--[a-z][\w-]*", line.split("  ")[0])}
        flags -= {"--help"}
        assert flags and flags == set(re.findall(r"`(--[a-z][\w-]*)`", sections[name])), name


def test_parameter_tables_come_from_the_docstrings():
    import inspect

    from memorynet import PrototypeCodeClassifier

    for name in ("MemoryNetworkClassifier", "LocalReceptiveFieldClassifier", "PrototypeCodeClassifier"):
        table = site.generate("params", name, DATA)
        cls = getattr(memorynet, name)
        rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \| (.+) \|$", table, re.M)
        assert [r[0] for r in rows] == list(inspect.signature(cls).parameters), name  # every parameter, in order
        assert all(r[2].strip() for r in rows), name  # and every one described
    codes = dict((r[0], r[2]) for r in re.findall(r"^\| `(\w+)` \| `([^`]*)` \| (.+) \|$",
                                                   site.generate("params", "PrototypeCodeClassifier", DATA), re.M))
    assert codes["max_neurons"].startswith("Prototypes in each position's dictionary")  # its own text
    assert codes["patch_size"].startswith("Side of the square patches")  # the receptive fields' text, not repeated
    assert "patch_size :" not in inspect.getdoc(PrototypeCodeClassifier)


def test_a_missing_results_file_is_named_with_the_command_that_makes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="memorynet reproduce --only ablation"):
        site.render("<!-- generated:experiment ablation -->", tmp_path)
    with pytest.raises(ValueError, match="unknown generated block"):
        site.render("<!-- generated:nothing -->", tmp_path)


def test_the_headline_shows_the_worst_class_ordered_stream_of_the_same_configuration(tmp_path):
    """The README's table puts beside a frontier row the worst of the three class-ordered streams that the
    class-order benchmark measured for the same data set, preprocessing and parameters; "not measured" otherwise
    (another configuration, or a stream missing)."""
    from memorynet.models.presets import PRESETS

    result = json.loads((DATA / "frontier.json").read_text())
    (tmp_path / "frontier.json").write_text(json.dumps(result))
    chain, _, values = PRESETS["cifar10-best"]
    params = {"preprocessing": chain, **{k: v for k, v in values.items() if k != "n_jobs"}}
    runs = [("ordered fit", 0.60), ("declared", 0.58), ("declared", 0.56), ("unannounced", 0.62)]
    rows = [{"dataset": "cifar10", "preset": "cifar10-best", "params": params, "protocol": p, "accuracy": a}
            for p, a in runs]
    (tmp_path / "class_order.json").write_text(json.dumps({"quick": False, "rows": rows}))
    table = site.headline(tmp_path)
    preset_line = next(line for line in table.splitlines() if "`cifar10-best` preset" in line)
    assert "| 57.00 ± 1.00 % |" in preset_line
    assert table.count("not measured") == len(table.splitlines()) - 3  # header, rule, the preset's row
    (tmp_path / "class_order.json").write_text(json.dumps({"quick": False, "rows": rows[1:]}))
    assert "57.00" not in site.headline(tmp_path)  # the ordered fit is missing: not measured
    (tmp_path / "class_order.json").unlink()
    assert "| 3 | not measured |" in site.headline(tmp_path)
