"""MkDocs hooks: the site's generated parts come from the results files in docs/data (see docs/generate.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the generator lives beside the pages it fills
import generate as site  # noqa: E402

DOCS = Path(__file__).parent
DATA = DOCS / "data"


def on_pre_build(config, **kwargs):
    site.figures(DATA, DOCS / "img")


def on_page_markdown(markdown, page, config, files, **kwargs):
    return site.render(markdown, DATA)
