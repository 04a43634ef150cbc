#!/usr/bin/env bash
# A bounded load run: a throwaway PostgreSQL (loopback), the demo seeded, gunicorn with 2 workers, then
# bench/load/loadgen.py (50 users, 2 minutes by default); writes the figures to bench/RESULTS.md.
#   bash bench/load/run.sh [USERS] [SECONDS]
# Loopback only; everything it starts is stopped at the end (also on error).
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS=${1:-50}
SECONDS_RUN=${2:-120}
work=$(mktemp -d /tmp/hwr-load.XXXXXX)
chmod 711 "$work"  # the postgres user must reach its data directory inside
pg_dir="$work/pg"
server_pid=""
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
redis_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  bash .ci/pg stop "$pg_dir" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

pg_port=$(free_port)
url=$(bash .ci/pg start "$pg_dir" "$pg_port")
# Several workers share their rate-limit counters in Redis (the production entry refuses memory:// otherwise).
redis_port=$(free_port)
/usr/bin/redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
redis_pid=$!
export FLASK_RATELIMIT_STORAGE_URI="redis://127.0.0.1:$redis_port/0"
export FLASK_SQLALCHEMY_DATABASE_URI="$url" FLASK_CAPTCHA_ENABLED=false FLASK_SMS_BACKEND=console \
  FLASK_UPLOAD_FOLDER="$work/uploads" FLASK_SMS_OUTBOX="$work/sms_outbox.jsonl" \
  FLASK_SECRET_KEY="load-test-secret-key-0123456789abcdef-not-for-production" FLASK_PII_KEY="bG9hZC10ZXN0LXBpaS1rZXktbG9hZC10ZXN0LXBpaS0=" \
  FLASK_LOGIN_IP_LIMIT="100000 per minute" FLASK_REGISTRY_SEARCH_LIMIT="100000 per minute"
flask=(.venv/bin/python -m flask --app wsgi)
# The schema as production gets it: the migrations.
"${flask[@]}" db upgrade >/dev/null
"${flask[@]}" seed-demo --staff 2000 >/dev/null
port=$(free_port)
# The production entry (gunicorn.conf.py: FLASK_PRODUCTION=true, Secure cookies, ProxyFix) with 2 workers; the
# load generator plays nginx's part (X-Forwarded-Proto: https) on loopback.
HWR_WORKERS=2 HWR_BIND="127.0.0.1:$port" .venv/bin/gunicorn -c gunicorn.conf.py --access-logfile /dev/null \
  --error-logfile "$work/gunicorn.log" wsgi:app &
server_pid=$!
up=""
for _ in $(seq 1 150); do
  if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=2)" \
    2>/dev/null; then up=1; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$up" ]; then echo "gunicorn did not come up:"; tail -n 40 "$work/gunicorn.log"; exit 1; fi
hash_cost=$(.venv/bin/python -c 'from werkzeug.security import generate_password_hash as g; print(g("x", method="scrypt").split("$")[0])')
set +e
.venv/bin/python bench/load/loadgen.py "http://127.0.0.1:$port" --users "$USERS" --spawn-rate 10 \
  --run-time "$SECONDS_RUN" --out "$work/result.json"
status=$?
set -e
.venv/bin/python bench/load/report.py "$work/result.json" bench/RESULTS.md --hash "$hash_cost" \
  --settings "gunicorn.conf.py production entry, 2 sync workers, PostgreSQL 15 (fsync off, loopback), seed-demo 2000 staff, captcha off, LOGIN_IP_LIMIT 100000/min, think time 0.2-1.0 s"
echo "results written to bench/RESULTS.md"
exit $status
