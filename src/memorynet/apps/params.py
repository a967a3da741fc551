"""The estimators' parameters as declared once, in their signatures and numpydoc docstrings.

The command line, the experiments and the documentation's parameter tables read them from here rather than
writing them out again.
"""

from __future__ import annotations

import inspect
import re

from ..models.memory_network import MemoryNetworkClassifier
from ..models.prototype_codes import PrototypeCodeClassifier
from ..models.receptive_fields import LocalReceptiveFieldClassifier

__all__ = ["parameter_docs", "parameter_defaults", "markdown_table", "estimator_tables"]

_ENTRY = re.compile(r"^    ([\w, ]+?) :(.*)$")


def parameter_docs(cls, fallback=None) -> dict[str, tuple[str, str]]:
    """``{name: (type text, one-paragraph description)}`` from the "Parameters" section of ``cls``'s docstring;
    parameters of its signature that it leaves out are taken from the class ``fallback``'s docstring."""
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
    if fallback is not None:
        inherited = parameter_docs(fallback)
        out.update({n: inherited[n] for n in parameter_defaults(cls) if n not in out and n in inherited})
    return out


def parameter_defaults(cls) -> dict[str, object]:
    """``{name: default}`` from the signature of ``cls.__init__``."""
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()}


def markdown_table(cls, fallback=None) -> str:
    """A Markdown table of ``cls``'s parameters: name, default, meaning."""
    docs, defaults = parameter_docs(cls, fallback), parameter_defaults(cls)
    rows = ["| parameter | default | meaning |", "|---|---|---|"]
    for name, default in defaults.items():
        text = re.sub(r":\w+:`([^`]+)`", r"`\1`", docs.get(name, ("", ""))[1]).replace("``", "`")
        rows.append(f"| `{name}` | `{default!r}` | {text} |")
    return "\n".join(rows) + "\n"


def estimator_tables() -> dict:
    """The tables the documentation carries: every public estimator (with the paper model as fallback)."""
    return {"MemoryNetworkClassifier": MemoryNetworkClassifier,
            "LocalReceptiveFieldClassifier": (LocalReceptiveFieldClassifier, MemoryNetworkClassifier),
            "PrototypeCodeClassifier": (PrototypeCodeClassifier, MemoryNetworkClassifier)}

