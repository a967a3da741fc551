"""The web application: a JSON API over a :class:`~memorynet.apps.serve.live.LiveModel` and the page that uses it.

Every request body is capped (:data:`MAX_BODY_BYTES`) before it is read whole, every error is a JSON object
``{"error": "..."}`` with a 4xx status, and no value from a request ever names a file: saving writes only to the
model's own path or a fresh name beside it. The OpenAPI description is at ``/openapi.json`` (browsable at
``/docs``, which loads its viewer from a CDN; the page itself needs nothing from outside the package).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .images import image_from_request
from .live import LiveModel

__all__ = ["create_app", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 2 << 20
STATIC = files("memorynet.apps.serve") / "static"


class Image(BaseModel):
    """One image: ``pixels`` (intensities 0-255, channel after channel, row-major) or a base64 ``png``."""

    pixels: list[float] | None = Field(None, max_length=4096 * 3, description="0-255 values, C*H*W or H*W grey")
    png: str | None = Field(None, description="a PNG file, base64 (at most 1 MiB)")
    position: int | None = Field(None, description="bank whose nearest neurons to report (default: the middle)")


class Lesson(Image):
    """An image and the class to learn it as: an existing class name or label, or a new name."""

    label: str = Field(..., min_length=1, max_length=40)


class SaveRequest(BaseModel):
    """``overwrite``: replace the model's file; otherwise write a new file (the model's path if free)."""

    overwrite: bool = False


def _limit_body(app, limit: int):
    """ASGI middleware: answer 413 once a request body passes ``limit`` bytes, without reading the rest."""
    async def middleware(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(limit)(scope, receive, send)
        seen, refused = 0, False

        async def counted():
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit and not refused:
                refused = True
                await _too_large(limit)(scope, receive, send)
            return {"type": "http.disconnect"} if refused else message

        async def unless_refused(message):
            if not refused:
                await send(message)
        await app(scope, counted, unless_refused)
    return middleware


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": f"request body over {limit} bytes"}, status_code=413)


def create_app(live: LiveModel, max_body_bytes: int = MAX_BODY_BYTES):
    """The ASGI application serving ``live``: the page at ``/`` and the JSON API under ``/api``."""
    api = FastAPI(title="memorynet", summary="Look inside a Memory Network and teach it live",
                  version="1", docs_url="/docs", redoc_url=None)

    @api.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError):
        return JSONResponse({"error": str(exc)}, status_code=400)

    @api.exception_handler(OSError)
    async def cannot_write(request: Request, exc: OSError):  # e.g. saving into a folder that cannot be written
        return JSONResponse({"error": f"the server could not do that: {exc}"}, status_code=500)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @api.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return JSONResponse({"error": f"{where or 'request'}: {first.get('msg')}"}, status_code=422)

    def image_of(body: Image):
        shape = tuple(live.estimator.image_shape_)
        return image_from_request(body.pixels, body.png, shape, float(live.model[0].pixel_max))

    @api.get("/api/model", summary="The model: classes, neurons per class, budget, lessons")
    def model_info() -> dict:
        return live.info()

    @api.get("/api/memory", summary="Neurons of one bank as display images, sorted, a page at a time")
    def memory(position: int | None = None, label: int | None = Query(None, description="class index"),
               sort: str = Query("-counter", description="-counter, counter or row"),
               offset: int = Query(0, ge=0), limit: int = Query(60, ge=1, le=500)) -> dict:
        return live.memory(position, label, sort, offset, limit)

    @api.post("/api/predict", summary="Prediction, distance to each class and the nearest neurons of an image")
    def predict(body: Image) -> dict:
        return live.ask(image_of(body), body.position)

    @api.post("/api/teach", summary="Learn an image as a class (existing or new) with partial_fit")
    def teach(body: Lesson) -> dict:
        return live.teach(image_of(body), body.label, body.position)

    @api.post("/api/undo", summary="Undo the last lesson")
    def undo() -> dict:
        return live.undo()

    @api.post("/api/save", summary="Write the model file atomically (a new file, or an explicit overwrite)")
    def save(body: SaveRequest) -> dict:
        return live.save(body.overwrite)

    @api.get("/api/download", summary="The model file, as it stands now")
    def download() -> Response:
        return Response(live.model_bytes(), media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{live.path.name}"'})

    for route, name, media in (("/", "index.html", "text/html"), ("/static/app.js", "app.js", "text/javascript"),
                               ("/static/style.css", "style.css", "text/css")):
        # fixed files by fixed names: no part of a request's path is ever used to open a file
        api.add_api_route(route, _file(STATIC / name, media), methods=["GET"], include_in_schema=False)
    return _limit_body(api, max_body_bytes)


def _file(path, media_type: str):
    def send() -> Response:
        return Response(path.read_bytes(), media_type=media_type)
    return send
