"""The README's two set-up commands stay true: CI runs the second one verbatim."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert "memorynet train" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_the_readme_is_short_and_its_generated_table_is_current(tmp_path):
    sys.path.insert(0, str(ROOT / "docs"))
    import generate

    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    copy = tmp_path / "README.md"
    copy.write_text(text)
    assert "<!-- generated:headline -->" in text
    assert not generate.update_stored(copy, ROOT / "docs" / "data"), "run: python docs/generate.py README.md"


def test_every_file_the_readme_links_to_exists():
    import re

    links = re.findall(r"\]\(([^)#]+)\)", (ROOT / "README.md").read_text())
    assert links and all((ROOT / link).exists() for link in links if not link.startswith("http")), links


def _blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [b.split("```", 1)[0] for b in text.split(f"```{language}\n")[1:]]


def test_the_readme_python_example_runs(data_dir, monkeypatch, capsys):
    code = _blocks("python")[0].replace('"../shared/data"', repr(str(data_dir)))
    exec(compile(code, "README.md", "exec"), {})
    assert float(capsys.readouterr().out.strip()) > 0.95


def test_the_readme_commands_parse_with_the_cli():
    import shlex

    from memorynet.apps.cli import build_parser

    parser = build_parser()
    lines = [line.split("#")[0].strip() for line in _blocks("bash")[1].splitlines()]
    for line in filter(None, lines):
        command = line.split("&&")[-1].strip()
        assert command.startswith("memorynet ")
        parser.parse_args(shlex.split(command)[1:])  # exits (SystemExit) on an unknown option


def test_the_files_the_suite_starts_with_exist():
    """The README's test time rests on the longest files starting first (tests/conftest.py): a renamed file would
    silently drop out of that order."""
    from conftest import LONGEST_FIRST

    tests = Path(__file__).parent
    assert all((tests / name).is_file() for name in LONGEST_FIRST)
