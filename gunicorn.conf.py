"""gunicorn settings for the production entry (`make serve`): behind nginx, on PostgreSQL."""
import multiprocessing
import os

bind = os.environ.get("HWR_BIND", "127.0.0.1:8000")
# Sync workers: requests are short and database-bound; two per core plus one is gunicorn's own advice.
workers = int(os.environ.get("HWR_WORKERS", multiprocessing.cpu_count() * 2 + 1))
timeout = int(os.environ.get("HWR_TIMEOUT", 60))
graceful_timeout = 30
max_requests = 2000  # recycle workers now and then so slow leaks never grow
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("HWR_FORWARDED_ALLOW_IPS", "127.0.0.1")
# The app checks its limiter storage against the worker count (admin_app/production.py).
raw_env = ["FLASK_PRODUCTION=true", f"FLASK_WEB_WORKERS={workers}"]
