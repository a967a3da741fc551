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


def test_parameter_tables_are_generated_from_the_estimators(tmp_path):
    from memorynet.params import estimator_tables, update_tables

    copy = tmp_path / "README.md"
    copy.write_text((ROOT / "README.md").read_text())
    assert "<!-- params:LocalReceptiveFieldClassifier -->" in copy.read_text()
    assert not update_tables(copy, estimator_tables()), "run: python -m memorynet.params README.md"
