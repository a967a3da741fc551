"""The documentation site's generated parts: nothing here is typed by hand.

A page carries markers ``<!-- generated:WHAT ARG -->``; :func:`render` replaces each with Markdown made from
its source: a results file of ``memorynet reproduce`` or of the benchmark scripts (``experiment NAME``,
``claim NAME``, ``benchmarks``, ``distributed``, ``gpu``, ``headline``), the argument parser (``cli``), an estimator's
docstring (``params CLASS``) or the presets (``presets``). :func:`figures` draws the site's figures from the same
results files.
``mkdocs build`` runs both through ``docs/hooks.py``; ``python docs/generate.py README.md`` refreshes the
README's generated blocks, which, unlike the site's pages, are stored between ``<!-- generated:... -->`` and
``<!-- /generated -->`` so GitHub shows them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import wings

from memorynet.experiments import claims, continual, frontier
from memorynet.experiments import grids as experiments
from memorynet.experiments.harness import summarize as experiments_summarize
from memorynet.io.atomic import atomic_write
from memorynet.models import parameters as params

__all__ = ["render", "generate", "figures", "cli_reference", "headline", "update_stored", "MARKER"]

MARKER = re.compile(r"<!-- generated:(?P<what>[\w-]+)(?: (?P<arg>[\w.-]+))? -->")
_STORED = re.compile(r"(<!-- generated:(?P<what>[\w-]+)(?: (?P<arg>[\w.-]+))? -->\n).*?(<!-- /generated -->)", re.S)
_CLAIM_TABLES = {"fewshot": claims.fewshot_markdown, "energy": claims.energy_markdown,
                 "continual": continual.markdown, "frontier": frontier.markdown}


def _load(data: Path, name: str) -> dict:
    path = data / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `memorynet reproduce --only {name}` (or the benchmark "
                                f"suite) and copy its JSON to {data}")
    return json.loads(path.read_text())


def _benchmark_script(name: str):
    """``benchmarks/<name>.py`` of this checkout (the benchmarks are not part of the installed package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _grid(name: str, runs: list[dict]) -> tuple[experiments.Experiment, str]:
    """The experiment whose grid the runs belong to (full, else ``--quick``) and a note saying which."""
    keys = {experiments.RunConfig(**r["config"]).key() for r in runs}
    for quick in (False, True):
        exp = experiments.experiment(name, quick=quick)
        if keys <= {c.key() for c in exp.configs + exp.baselines}:
            return exp, _reduced(quick)
    raise ValueError(f"the results file of {name!r} holds runs of neither its full nor its quick grid")


def _experiment_table(data: Path, name: str) -> str:
    runs = _load(data, name)["runs"]
    exp, note = _grid(name, runs)
    return experiments.markdown_table(exp, runs).split("\n", 2)[2] + note  # the page gives the heading


_ORDERED = ("ordered fit", "declared", "unannounced")  # the class-ordered streams of benchmarks/class_order.py


def _configuration(dataset: str, chain: str, params: dict) -> str:
    """A model's data set, preprocessing and parameters as a comparable key."""
    return json.dumps({"dataset": dataset, "preprocessing": chain, **params}, sort_keys=True)


def _worst_ordered(data: Path) -> dict[str, str]:
    """For each configuration measured by the class-order benchmark (``class_order.json``, if there): its worst
    class-ordered stream (5 tasks of 2 classes), mean ± std over seeds."""
    if not (data / "class_order.json").exists():
        return {}
    rows = [r for r in _load(data, "class_order")["rows"] if r["protocol"] in _ORDERED]
    key = lambda r: (_configuration(r["dataset"], r["params"]["preprocessing"], r["params"]), r["protocol"])  # noqa: E731
    streams: dict[str, dict[str, tuple[float, float]]] = {}
    for runs, stats in experiments_summarize(rows, key):
        configuration, protocol = key(runs[0])
        streams.setdefault(configuration, {})[protocol] = stats["accuracy"]
    return {configuration: "{:.2f} ± {:.2f} %".format(*(100 * v for v in min(found.values())))
            for configuration, found in streams.items() if set(found) == set(_ORDERED)}


def headline(data: Path) -> str:
    """The README's table: the paper's model, the receptive fields and the dictionary model per data set, measured
    on the test sets by ``reproduce --only frontier``; the rows the ``*-best`` presets take are marked; beside each,
    its worst class-ordered stream where ``benchmarks/class_order.py`` measured the same configuration."""
    result, ordered = _load(data, "frontier"), _worst_ordered(data)
    chosen = {name: choice["label"] for name, choice in result["presets"].items()}
    lines = ["| data | model | test accuracy (mean ± std) | seeds | worst class-ordered stream | fit s | predict s "
             "| peak memory MB |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in frontier.summary(result):
        if r["role"] != "peer" or r["label"].startswith(("the paper's", "local receptive")):
            if r["role"] == "ablation":
                continue
            best = f" (`{r['dataset']}-best` preset)" if chosen.get(r["dataset"]) == r["label"] else ""
            name = (r["label"].replace(" (headline)", "").replace(" (previous preset)", "")
                    .replace("the same dictionaries", "dictionaries + triangle codes + LDA readout"))
            streams = ordered.get(_configuration(r["dataset"], r["chain"], r["params"]), "not measured")
            lines.append(f"| {r['dataset']} | {name}{best} | {100 * r['mean']:.2f} ± {100 * r['std']:.2f} % | "
                         f"{r['seeds']} | {streams} | {r['fit_seconds']:.1f} | {r['predict_seconds']:.1f} | "
                         f"{r['peak_bytes'] / 2 ** 20:.0f} |")
    return "\n".join(lines) + "\n" + _reduced(result.get("settings", {}).get("quick"))


def presets_table() -> str:
    """Every preset: its preprocessing chain and its estimator with the parameters it sets."""
    from memorynet.models.presets import PRESETS

    lines = ["| preset | preprocessing | estimator |", "|---|---|---|"]
    for name, (chain, cls, values) in PRESETS.items():
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items() if k != "n_jobs")
        lines.append(f"| `{name}` | `{chain}` | `{cls.__name__}({shown})` |")
    return "\n".join(lines) + ("\n\nEvery preset but `paper` also sets `n_jobs=-1` (positions on every core).\n")


def cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """Every command of ``memorynet`` with its description and options, from the argument parser itself."""
    from memorynet.apps.cli import build_parser

    parser = parser or build_parser()
    out = [f"```text\n{parser.format_usage().strip()}\n```", "", parser.description or "", ""]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        out += [f"## `memorynet {name}`", "", sub.description or "", "", "| option | meaning |", "|---|---|"]
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flags = ", ".join(f"`{f}`" for f in action.option_strings) or f"`{action.dest}`"
            if action.choices is not None and action.option_strings:
                flags += " {" + ", ".join(str(c) for c in action.choices) + "}"
            text = (action.help or "").replace("%%", "%").replace("|", "\\|")
            out.append(f"| {flags} | {text} |")
        out.append("")
    return "\n".join(out)


def _reduced(flag) -> str:
    """The note a table carries when its results file comes from a reduced (quick or smoke) run."""
    return "\n*Reduced run (`--quick` / `--smoke`): small sizes, not the full measurement.*\n" if flag else ""


# marker: (benchmark script, its results file, the key that flags a reduced run)
_BENCHMARK_TABLES = {"distributed": ("distributed_scaling", "distributed", "quick"),
                     "onnx": ("onnx_runtime", "onnx_runtime", "quick"),
                     "stream-memory": ("stream_memory", "stream_memory", "quick"),
                     "class-order": ("class_order", "class_order", "quick"),
                     "gpu": ("gpu_table", "gpu", "smoke"),
                     "multiscale": ("multiscale_probe", "multiscale_probe", "quick"),
                     "field-chains": ("field_chains_probe", "field_chains_probe", "quick"),
                     "field-jitter": ("field_jitter_probe", "field_jitter_probe", "quick"),
                     "field-neighbours": ("field_neighbours_probe", "field_neighbours_probe", "quick"),
                     "readout-probe": ("readout_probe", "readout_probe", "quick"),
                     "readout-pca": ("readout_pca_probe", "readout_pca_probe", "quick"),
                     "second-layer": ("second_layer_probe", "second_layer_probe", "quick"),
                     "side-by-side": ("side_by_side_probe", "side_by_side_probe", "quick"),
                     "fit-profile": ("fit_profile", "fit_profile", "quick")}


def generate(what: str, arg: str | None, data: Path) -> str:
    """The Markdown a marker stands for (``data``: the folder of results files)."""
    if what == "experiment":
        return _experiment_table(data, arg)
    if what == "claim":
        result = _load(data, arg)
        return _CLAIM_TABLES[arg](result) + _reduced(result.get("settings", {}).get("quick"))
    if what == "benchmarks":
        module, results = _benchmark_script("run_benchmarks"), _load(data, "benchmarks")
        return module.markdown(results) + "\n**Targets**\n\n" + module.targets(results) + \
            _reduced(results.get("smoke"))
    if what in _BENCHMARK_TABLES:
        script, name, flag = _BENCHMARK_TABLES[what]
        results = _load(data, name)
        return _benchmark_script(script).markdown(results) + _reduced(results.get(flag))
    if what == "headline":
        return headline(data)
    if what == "presets":
        return presets_table()
    if what == "cli":
        return cli_reference()
    if what == "architecture":
        return wings.markdown()
    if what == "params":
        spec = params.estimator_tables()[arg]
        return params.markdown_table(spec)
    raise ValueError(f"unknown generated block {what!r}")


def render(markdown: str, data: Path) -> str:
    """``markdown`` with every marker replaced by what it stands for."""
    return MARKER.sub(lambda m: generate(m.group("what"), m.group("arg"), data), markdown)


def update_stored(path: Path, data: Path) -> bool:
    """Refresh the blocks stored between markers in ``path`` (the README); returns whether it changed."""
    text = path.read_text()
    new = _STORED.sub(lambda m: m.group(1) + generate(m.group("what"), m.group("arg"), data) + m.group(4), text)
    if new != text:
        atomic_write(path, lambda fh: fh.write(new.encode()))
    return new != text


def figures(data: Path, out: Path) -> list[Path]:
    """Draw every figure the site shows from the results files in ``data`` into ``out``."""
    from memorynet.experiments import plots

    out.mkdir(parents=True, exist_ok=True)
    written = [plots.explain_figure(out / "explained.png")]
    for name in ("mnist", "figure2"):
        if (data / f"{name}.json").exists():
            runs = _load(data, name)["runs"]
            exp = _grid(name, runs)[0]
            written.append(plots.plot_sweep(exp, experiments.summarize(runs), out / f"{name}.png"))
    for name, draw in (("fewshot", plots.plot_fewshot), ("continual", plots.plot_continual),
                       ("energy", plots.plot_energy), ("frontier", frontier.figure)):
        if (data / f"{name}.json").exists():
            written.append(draw(_load(data, name), out / f"{name}.png"))
    return written


def numbers_in(value) -> set[str]:
    """Every number a results file holds, as the tables may print it (for the test that pages invent none)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for v in value.values():
            found |= numbers_in(v)
    elif isinstance(value, list):
        for v in value:
            found |= numbers_in(v)
    elif isinstance(value, str):
        found |= set(re.findall(r"\d+(?:\.\d+)?", value))
    elif isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
        for v in (value, 100 * value):
            for text in [f"{v:.{d}f}" for d in range(4)] + [f"{v:.3g}", f"{v:g}", str(value)]:
                found |= {text} | set(re.findall(r"\d+(?:\.\d+)?", text))
    return found


if __name__ == "__main__":  # python docs/generate.py README.md [--data docs/data]
    import sys

    args = sys.argv[1:]
    folder = Path(args[args.index("--data") + 1]) if "--data" in args else Path("docs/data")
    for name in [a for a in args if a.endswith(".md")]:
        print(f"{name}: {'updated' if update_stored(Path(name), folder) else 'up to date'}")
