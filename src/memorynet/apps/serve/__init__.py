"""``memorynet serve``: a web page to look inside a memory and teach it live (``pip install 'memorynet[serve]'``).

:func:`create_app` builds the ASGI application (FastAPI) around a :class:`LiveModel`; :func:`run` serves it with
Uvicorn. The page (``static/``) is plain HTML and JavaScript shipped in the package: no build step, no CDN.
"""

from __future__ import annotations

import warnings

from .app import create_app
from .live import LiveModel

__all__ = ["LiveModel", "create_app", "run"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def run(live: LiveModel, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``live`` until interrupted; on a host other than this machine's loopback, warn first."""
    import uvicorn

    if host not in LOCAL_HOSTS:
        warnings.warn(f"serving on {host}: anyone who can reach this machine can read and teach the model "
                      "(there is no authentication); use the default 127.0.0.1 to keep it private", stacklevel=2)
    uvicorn.run(create_app(live), host=host, port=port, log_level="warning")
