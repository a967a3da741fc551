"""Probe for the accuracy frontier (issue 24): do receptive fields and dictionaries at other scales, beside the
frontier's MNIST pair (its side-by-side row, once ``mnist-best``), add evidence? Validation split only; the test set
is not read.

    python benchmarks/multiscale_probe.py --data-dir ../shared/data            # about 5 minutes on 2 cores
    python benchmarks/multiscale_probe.py --data-dir ../shared/data --quick    # 1000 training images, smaller memories

One side-by-side model holds the pair's members (the receptive fields on deskewed digits and the dictionaries),
receptive fields at three more scales (larger and smaller patches, and the whole image: the paper's model on deskewed
digits) and dictionaries at two more (larger patches, the pair's dictionaries otherwise), all learnt from the same
single pass over the frontier's fit split. Each member's standardised evidence on the validation split is computed
once; every combination of :data:`WEIGHTS` then scores the weighted sum (the pair's two members with the extra
members' weights at zero are the baseline). Writes ``<out>/multiscale_probe.json`` (the best :data:`KEPT` scores);
``--quick`` says so in the file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from memorynet import datasets
from memorynet.experiments.frontier import side_by_side_choice
from memorynet.experiments.harness import validation_split_indices
from memorynet.models import preprocessing
from memorynet.models.side_by_side import SideBySideClassifier, combined_evidence

EXTRA_SCALES = ({"patch_size": 14, "stride": 7}, {"patch_size": 7, "stride": 3}, {"patch_size": 28, "stride": 1})
EXTRA_DICTIONARIES = ({"patch_size": 10, "stride": 3}, {"patch_size": 14, "stride": 7})
# the weight of each member's standardised evidence: the pair's receptive fields keep 1, every dictionary takes one
# of the frontier's side-by-side weights, each extra scale of receptive fields one of these
_DICTIONARY_WEIGHTS, _FIELD_WEIGHTS = (0.0, 0.02, 0.05, 0.1), (0.0, 0.25, 0.5, 1.0)
WEIGHTS = ((1.0,), _DICTIONARY_WEIGHTS, *[_FIELD_WEIGHTS] * len(EXTRA_SCALES),
           *[_DICTIONARY_WEIGHTS] * len(EXTRA_DICTIONARIES))
KEPT = 20  # scores kept in the results file, best first
QUICK = {"fit": 1000, "validation": 300, "max_neurons": 1000, "prototypes": 32}
# the frontier's MNIST side-by-side row as its results file holds it: the chain, the members and their weights
PAIR_CHAIN, PAIR = side_by_side_choice(
    json.loads((Path(__file__).resolve().parents[1] / "docs" / "data" / "frontier.json").read_text()), "mnist")


def pair_members(quick: bool) -> list:
    """The pair's members; ``quick``: a smaller memory, smaller dictionaries with a shorter warm-up."""
    fields, dictionaries = ([kind, dict(params)] for kind, params in PAIR["members"])
    if quick:
        fields[1]["max_neurons"] = QUICK["max_neurons"]
        dictionaries[1].update(max_neurons=QUICK["prototypes"], warmup=300, whiten_images=100)
    return [fields, dictionaries]


def members(quick: bool) -> list:
    """The pair's members, then the receptive fields at :data:`EXTRA_SCALES` (as much memory as the pair's
    own) and the dictionaries at :data:`EXTRA_DICTIONARIES` (the pair's otherwise); ``quick``: as
    :func:`pair_members`."""
    fields, dictionaries = pair_members(quick)
    return [fields, dictionaries, *[["receptive-fields", {**fields[1], **scale}] for scale in EXTRA_SCALES],
            *[["codes", {**dictionaries[1], **scale}] for scale in EXTRA_DICTIONARIES]]


def validation_split(data_dir: str, quick: bool):
    """MNIST's fit and validation parts (the harness's split; ``quick``: :data:`QUICK`'s sizes), loaded once: a
    function of a preprocessing chain that gives ``(X, y, X_val, y_val)`` through it (the pair's by default)."""
    data = datasets.load("mnist", data_dir, progress=False)
    fit_rows, val_rows = validation_split_indices(len(data.y_train))
    if quick:
        fit_rows, val_rows = fit_rows[:QUICK["fit"]], val_rows[:QUICK["validation"]]

    def images(chain: str = PAIR_CHAIN) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        X, X_val = (preprocessing.apply(chain, data.X_train[rows], data.pixel_max) for rows in (fit_rows, val_rows))
        return X, data.y_train[fit_rows], X_val, data.y_train[val_rows]
    return images


def run(data_dir: str, quick: bool) -> dict:
    X, y, X_val, y_val = validation_split(data_dir, quick)()
    model = SideBySideClassifier(members=members(quick), n_jobs=-1, random_state=0)
    fit_seconds, evidence, evidence_seconds = fitted_evidence(model, X, y, X_val)
    scores, alone = weighting_scores(model.classes_, evidence, y_val, WEIGHTS)
    extra = len(EXTRA_SCALES) + len(EXTRA_DICTIONARIES)
    baseline = next(s for s in scores if s["weights"] == [*PAIR["weights"], *[0.0] * extra])
    ranked = sorted(scores, key=lambda s: -s["accuracy"])  # stable: the first of equals keeps its place
    return {"quick": quick, "members": model.members, "n_fit": len(y), "n_validation": len(y_val),
            "fit_seconds": fit_seconds, "evidence_seconds": evidence_seconds, "each_member_alone": alone,
            "n_weightings": len(scores), "preset_pair": baseline, "best": ranked[0], "scores": ranked[:KEPT]}


def fitted_evidence(model: SideBySideClassifier, X: np.ndarray, y: np.ndarray,
                    X_val: np.ndarray) -> tuple[float, list[np.ndarray], float]:
    """(seconds to fit ``model`` on ``X``, its members' standardised evidence on ``X_val``, seconds for that)."""
    start = time.perf_counter()
    model.fit(X, y)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    evidence = model.member_evidence(X_val)
    return fit_seconds, evidence, time.perf_counter() - start


def weighting_scores(classes: np.ndarray, evidence: list[np.ndarray], y_val: np.ndarray,
                     weights: tuple[tuple[float, ...], ...]) -> tuple[list[dict], list[float]]:
    """The validation accuracy of the weighted sum of the members' standardised ``evidence`` for every combination
    of ``weights`` (one tuple of choices per member), and of each member alone."""
    def accuracy(scores: np.ndarray) -> float:
        return float(np.mean(classes[np.argmax(scores, axis=1)] == y_val))
    return ([{"weights": list(w), "accuracy": accuracy(combined_evidence(evidence, w))}
             for w in itertools.product(*weights)], [accuracy(e) for e in evidence])


def weighting_table(result: dict, rows: list[tuple[str, dict]],
                    ordered: tuple[list[float], list[float]] | None = None,
                    fits: str = "one fit of every member in one pass") -> str:
    """A probe's table: each member alone, then each ``(label, score)`` of ``rows`` (validation accuracies);
    ``ordered``: a column more, the same after a class-ordered stream (each member alone, each row); ``fits``: how
    the members learnt (their fits' seconds follow)."""
    lines = [f"Validation split: {result['n_fit']} images learnt, {result['n_validation']} scored; {fits} "
             f"({result['fit_seconds']:.0f} s), their evidence once "
             f"({result['evidence_seconds']:.0f} s).", "",
             "| evidence | weights | validation accuracy |" + (" after a class-ordered stream |" if ordered else ""),
             "|---|---|---:|" + ("---:|" if ordered else "")]
    members = [(f"{kind} ({', '.join(f'{k}={v}' for k, v in params.items())}) alone", {"weights": [], "accuracy": a})
               for (kind, params), a in zip(result["members"], result["each_member_alone"])]
    extra = [*ordered[0], *ordered[1]] if ordered else [None] * (len(members) + len(rows))
    for (label, row), also in zip([*members, *rows], extra):
        lines.append(f"| {label} | {', '.join(f'{w:g}' for w in row['weights'])} | {100 * row['accuracy']:.2f} % |"
                     + ("" if also is None else f" {100 * also:.2f} % |"))
    return "\n".join(lines) + "\n"


def markdown(result: dict) -> str:
    """The probe's table: each member alone, the frontier's pair, the best weighted sum (validation accuracies)."""
    return weighting_table(result, [("the frontier's pair (the extra members weighted 0)", result["preset_pair"]),
                                    (f"the best of the {result['n_weightings']} weightings", result["best"])])


def probe_main(name: str, description: str, run, markdown) -> None:
    """An MNIST probe's command line (``--data-dir``, ``--out``, ``--quick``): ``run`` it, write
    ``<out>/<name>.json`` and print its ``markdown`` table."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--quick", action="store_true", help="1000 training images, smaller memories")
    args = parser.parse_args()
    result = run(args.data_dir, args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    print(markdown(result))


def main() -> None:
    probe_main("multiscale_probe", __doc__, run, markdown)


if __name__ == "__main__":
    main()
