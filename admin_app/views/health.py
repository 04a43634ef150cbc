"""Liveness and readiness probes for load balancers and orchestrators."""
from flask import Blueprint, current_app, jsonify

from ..extensions import csrf, limiter
from ..services.health import database_check, pii_key_check

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """The process is up and answering."""
    return jsonify(ok=True)


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """The database (and Redis, when configured) answer and the PII key opens the data: this node may take traffic."""
    checks = {"database": database_check()}
    if checks["database"] == "ok":
        checks["pii_key"] = pii_key_check()
    for key in ("RATELIMIT_STORAGE_URI", "REDIS_URL"):
        url = current_app.config.get(key) or ""
        if url.startswith(("redis://", "rediss://")) and "redis" not in checks:
            checks["redis"] = _ping_redis(url)
    ok = all(v == "ok" for v in checks.values())
    return jsonify(ok=ok, checks=checks), (200 if ok else 503)


def _ping_redis(url: str) -> str:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
        return "ok"
    except Exception as e:  # unreachable, refused, auth: not ready
        return f"error: {type(e).__name__}"


csrf.exempt(bp)
