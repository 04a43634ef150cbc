"""Liveness and readiness probes for load balancers and orchestrators."""
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..extensions import csrf, db, limiter

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
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as e:  # any failure means "not ready"; the message helps the operator
        db.session.rollback()
        checks["database"] = f"error: {type(e).__name__}"
    if checks["database"] == "ok":
        checks["pii_key"] = _pii_key()
    for key in ("RATELIMIT_STORAGE_URI", "REDIS_URL"):
        url = current_app.config.get(key) or ""
        if url.startswith(("redis://", "rediss://")) and "redis" not in checks:
            checks["redis"] = _ping_redis(url)
    ok = all(v == "ok" for v in checks.values())
    return jsonify(ok=ok, checks=checks), (200 if ok else 503)


def _pii_key() -> str:
    """ok, or why this node's PII key ring cannot open the data (a node with the wrong key must not serve)."""
    from ..services.fingerprint import problem

    try:
        found = problem()
    except Exception as e:  # a broken key setting is a reason not to serve, never a 500 of the probe
        db.session.rollback()
        return f"error: PII_KEY: {type(e).__name__}: {e}"[:300]
    return "ok" if found is None else f"error: {found}"


def _ping_redis(url: str) -> str:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
        return "ok"
    except Exception as e:  # unreachable, refused, auth: not ready
        return f"error: {type(e).__name__}"


csrf.exempt(bp)
