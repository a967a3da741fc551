"""The README's two set-up commands stay true: CI runs the second one verbatim."""

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
    from memorynet import site

    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    copy = tmp_path / "README.md"
    copy.write_text(text)
    assert "<!-- generated:headline -->" in text
    assert not site.update_stored(copy, ROOT / "docs" / "data"), "run: python -m memorynet.site README.md"


def test_every_file_the_readme_links_to_exists():
    import re

    links = re.findall(r"\]\(([^)#]+)\)", (ROOT / "README.md").read_text())
    assert links and all((ROOT / link).exists() for link in links if not link.startswith("http")), links
