"""MkDocs hooks: the site's generated parts come from the results files in docs/data (see memorynet.site)."""

from pathlib import Path

from memorynet import site

DOCS = Path(__file__).parent
DATA = DOCS / "data"


def on_pre_build(config, **kwargs):
    site.figures(DATA, DOCS / "img")


def on_page_markdown(markdown, page, config, files, **kwargs):
    return site.render(markdown, DATA)
