"""The estimators' parameters as declared once, in their signatures and numpydoc docstrings.

The command line, the experiments and the documentation's parameter tables read them from here rather than
writing them out again.
"""

from __future__ import annotations

import inspect
import re

from .memory_network import MemoryNetworkClassifier
from .presets import MODEL_KINDS
from .prototype_codes import PrototypeCodeClassifier
from .receptive_fields import LocalReceptiveFieldClassifier

__all__ = ["DESCRIBED_IN", "parameter_docs", "parameter_defaults", "markdown_table", "estimator_tables"]

_ENTRY = re.compile(r"^    ([\w, ]+?) :(.*)$")

# The estimators whose docstrings describe the parameters an estimator shares with them, nearest first (each
# parameter is described once, where it first appears).
DESCRIBED_IN = {
    LocalReceptiveFieldClassifier: (MemoryNetworkClassifier,),
    PrototypeCodeClassifier: (LocalReceptiveFieldClassifier, MemoryNetworkClassifier),
}


def _own_docs(cls) -> dict[str, tuple[str, str]]:
    """``{name: (type text, description)}`` of the "Parameters" section of ``cls``'s own docstring."""
    doc = inspect.getdoc(cls) or ""
    section = doc.split("Parameters\n----------\n", 1)[-1].split("\n\nAttributes\n", 1)[0]
    out: dict[str, tuple[str, str]] = {}
    names, kind, text = [], "", []
    for line in ("    " + raw if raw.strip() else raw for raw in section.splitlines()):
        match = _ENTRY.match(line)
        if match and not line.startswith("        "):
            out.update({n: (kind, " ".join(text)) for n in names})
            names = [n.strip() for n in match.group(1).split(",") if n.strip()]
            kind, text = match.group(2).strip(), []
        elif line.strip():
            text.append(line.strip())
    out.update({n: (kind, " ".join(text)) for n in names})
    return out


def parameter_docs(cls) -> dict[str, tuple[str, str]]:
    """``{name: (type text, one-paragraph description)}`` of every parameter of ``cls``: from its own docstring,
    else from the first estimator of :data:`DESCRIBED_IN` ``[cls]`` that describes it."""
    out = {}
    for source in reversed((cls, *DESCRIBED_IN.get(cls, ()))):
        out.update(_own_docs(source))
    return {name: out[name] for name in parameter_defaults(cls) if name in out}


def parameter_defaults(cls) -> dict[str, object]:
    """``{name: default}`` from the signature of ``cls.__init__``."""
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()}


def markdown_table(cls) -> str:
    """A Markdown table of ``cls``'s parameters: name, default, meaning."""
    docs, defaults = parameter_docs(cls), parameter_defaults(cls)
    rows = ["| parameter | default | meaning |", "|---|---|---|"]
    for name, default in defaults.items():
        text = re.sub(r":\w+:`([^`]+)`", r"`\1`", docs.get(name, ("", ""))[1]).replace("``", "`")
        rows.append(f"| `{name}` | `{default!r}` | {text} |")
    return "\n".join(rows) + "\n"


def estimator_tables() -> dict:
    """The estimators whose parameter tables the documentation carries, by name."""
    return {cls.__name__: cls for cls in MODEL_KINDS.values()}

