# Sourced by bench/load/run.sh and burst.sh: the throwaway stack both load runs use, all on loopback.
#   stack_up PREFIX WORKERS   a temporary directory (/tmp/PREFIX.XXXXXX), PostgreSQL and Redis on free ports, the
#                             schema by the migrations, the regions and seed-demo's 2,000 staff, then gunicorn's
#                             production entry (gunicorn.conf.py) with WORKERS workers, waited for on /healthz.
# Sets `work`, `port`, `server_pid`, `redis_pid`, exports the FLASK_* settings (the caller may export more first,
# they are kept) and stops everything it started when the shell exits (also on error).
# shellcheck shell=bash

server_pid="" redis_pid="" work="" pg_dir=""

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

stack_down() {
  for pid in $server_pid $redis_pid; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [ -n "$pg_dir" ]; then bash .ci/pg stop "$pg_dir" 2>/dev/null || true; fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
}

stack_up() {
  local prefix=$1 workers=$2 url redis_port
  work=$(mktemp -d "/tmp/$prefix.XXXXXX")
  chmod 711 "$work"  # the postgres user must reach its data directory inside
  pg_dir="$work/pg"
  trap stack_down EXIT
  url=$(bash .ci/pg start "$pg_dir" "$(free_port)")
  # Several workers share their rate-limit counters in Redis (the production entry refuses memory:// otherwise).
  redis_port=$(free_port)
  /usr/bin/redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
  redis_pid=$!
  export FLASK_SQLALCHEMY_DATABASE_URI="$url" FLASK_CAPTCHA_ENABLED=false FLASK_SMS_BACKEND=console \
    FLASK_UPLOAD_FOLDER="$work/uploads" FLASK_SMS_OUTBOX="$work/sms_outbox.jsonl" \
    FLASK_RATELIMIT_STORAGE_URI="redis://127.0.0.1:$redis_port/0" \
    FLASK_SECRET_KEY="load-test-secret-key-0123456789abcdef-not-for-production" \
    FLASK_PII_KEY="bG9hZC10ZXN0LXBpaS1rZXktbG9hZC10ZXN0LXBpaS0="
  local flask=(.venv/bin/python -m flask --app wsgi)
  # The schema as production gets it: the migrations.
  "${flask[@]}" db upgrade >/dev/null
  "${flask[@]}" load-regions >/dev/null
  "${flask[@]}" seed-demo --staff 2000 >/dev/null
  port=$(free_port)
  # The production entry (FLASK_PRODUCTION=true, Secure cookies, ProxyFix); the load tools play nginx's part
  # (X-Forwarded-Proto: https) on loopback.
  HWR_WORKERS=$workers HWR_BIND="127.0.0.1:$port" .venv/bin/gunicorn -c gunicorn.conf.py --access-logfile /dev/null \
    --error-logfile "$work/gunicorn.log" wsgi:app &
  server_pid=$!
  local up=""
  for _ in $(seq 1 150); do
    if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=2)" \
      2>/dev/null; then up=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$up" ]; then echo "gunicorn did not come up:"; tail -n 40 "$work/gunicorn.log"; exit 1; fi
}
