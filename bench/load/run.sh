#!/usr/bin/env bash
# A bounded load run: a throwaway PostgreSQL (loopback), the demo seeded, gunicorn with 2 workers, then
# bench/load/loadgen.py (50 users, 2 minutes by default); writes the figures to bench/RESULTS.md.
#   bash bench/load/run.sh [USERS] [SECONDS]
# Loopback only; everything it starts is stopped at the end (also on error).
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS=${1:-50}
SECONDS_RUN=${2:-120}
# shellcheck source=bench/load/stack.sh
source bench/load/stack.sh
export FLASK_LOGIN_IP_LIMIT="100000 per minute" FLASK_REGISTRY_SEARCH_LIMIT="100000 per minute"
stack_up hwr-load 2
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
