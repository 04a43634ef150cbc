"""Request ids and JSON log lines (one object per line, each carrying the request id)."""
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id() -> str | None:
    """The current request's id (from a trusted X-Request-ID of the proxy, or generated)."""
    return g.get("request_id") if has_request_context() else None


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id(),
        }
        if has_request_context():
            entry.update(method=request.method, path=request.path, ip=request.remote_addr)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def init_app(app: Flask) -> None:
    """Give every request an id (echoed in X-Request-ID) and, when LOG_JSON, log JSON lines."""

    @app.before_request
    def _assign_request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(resp):
        if g.get("request_id"):
            resp.headers["X-Request-ID"] = g.request_id
        return resp

    if app.config.get("LOG_JSON"):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        for name in (None, "gunicorn.error"):
            logger = logging.getLogger(name)
            logger.handlers[:] = [handler]
        logging.getLogger().setLevel(app.config.get("LOG_LEVEL", "INFO"))
        app.logger.handlers[:] = []
        app.logger.propagate = True
