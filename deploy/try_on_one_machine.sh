#!/bin/bash
# The production set-up tried on one machine: PostgreSQL, Redis, two gunicorn app servers (two ports standing
# for two machines), one RQ worker and one nginx in front with TLS (self-signed), with deploy/'s real files:
# the nginx site is deploy/nginx/hallscore.conf with only ports, paths and the upstream list changed, and the
# environment is deploy/env.example's variables. Then deploy/trial_checks.py checks it through nginx, and
# everything started here is stopped again.
#
# Needs: Debian's nginx and openssl, PostgreSQL reachable at DB_URL (its database is emptied!), Redis.
# Usage (as root or a user allowed to run nginx on these ports):
#   DB_URL=postgresql://postgres@127.0.0.1:5432/hs_e REDIS=redis://127.0.0.1:6379/5 deploy/try_on_one_machine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
APP=$(pwd)
DB_URL=${DB_URL:-postgresql://postgres@127.0.0.1:5432/hs_e}
REDIS=${REDIS:-redis://127.0.0.1:6379/5}
WEB1=${WEB1:-5140}
WEB2=${WEB2:-5141}
HTTP=${HTTP:-5148}
HTTPS=${HTTPS:-5149}
WORK=${WORK:-/tmp/hallscore-trial}

rm -rf "$WORK"
mkdir -p "$WORK"/{shared/evidence,shared/imports,shared/exports,tls,nginx/logs,nginx/tmp,logs,backups}

# The environment every process gets (deploy/env.example, with this trial's values).
cat > "$WORK/env" <<EOF
HALL_ENV=production
DATABASE_URL=$DB_URL
SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
SESSION_COOKIE_SECURE=1
PROXY_COUNT=1
REDIS_URL=$REDIS
RATELIMIT_STORAGE_URI=$REDIS
RATELIMIT_KEY_PREFIX=hallscore-trial
EVIDENCE_DIR=$WORK/shared/evidence
IMPORT_DIR=$WORK/shared/imports
EXPORT_DIR=$WORK/shared/exports
HALL_NAME=市政务服务大厅
HALL_TZ=Asia/Shanghai
BACKUP_DIR=$WORK/backups
BACKUP_KEEP_DAYS=30
EOF
set -a; . "$WORK/env"; set +a

echo "== database: empty it, init-db, demo"
.venv/bin/python - <<EOF
from sqlalchemy import create_engine, text
engine = create_engine("$DB_URL".replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    conn.execute(text("DROP SCHEMA public CASCADE"))
    conn.execute(text("CREATE SCHEMA public"))
EOF
.venv/bin/flask --app app init-db
.venv/bin/flask --app app demo | tail -n 6

echo "== TLS: a self-signed certificate for 127.0.0.1"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/tls/privkey.pem" -out "$WORK/tls/fullchain.pem" 2>/dev/null

echo "== nginx: deploy/nginx/hallscore.conf with this trial's ports and paths"
sed -e "s#listen 80;#listen $HTTP;#" \
    -e "s#listen 443 ssl http2;#listen $HTTPS ssl http2;#" \
    -e "/listen \[::\]/d" \
    -e "s#return 301 https://\$host\$request_uri;#return 301 https://\$host:$HTTPS\$request_uri;#" \
    -e "s#server 127.0.0.1:8000 max_fails=3 fail_timeout=10s;#server 127.0.0.1:$WEB1 max_fails=3 fail_timeout=10s;\n    server 127.0.0.1:$WEB2 max_fails=3 fail_timeout=10s;#" \
    -e "/# server 10.0.0.12/d" \
    -e "s#/etc/ssl/hallscore/#$WORK/tls/#" \
    -e "s#/srv/hallscore/#$APP/#g" \
    -e "s#server_name hallscore.example.gov.cn;#server_name 127.0.0.1;\n    add_header X-Trial-Upstream \$upstream_addr always;#" \
    deploy/nginx/hallscore.conf > "$WORK/nginx/hallscore.conf"
cat > "$WORK/nginx/nginx.conf" <<EOF
# As Debian's /etc/nginx/nginx.conf (gzip on), in a folder of its own.
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log $WORK/nginx/logs/access.log;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    gzip on;
    include $WORK/nginx/hallscore.conf;
}
EOF
nginx -t -q -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx"

PIDS=()
stop_all() {
    echo "== stopping what this script started"
    [ -f "$WORK/nginx/nginx.pid" ] && kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

echo "== two app servers (the README's gunicorn command) on $WEB1 and $WEB2, one worker, nginx on $HTTP/$HTTPS"
for port in "$WEB1" "$WEB2"; do
    .venv/bin/gunicorn -w 2 -k gthread --threads 8 -b "127.0.0.1:$port" --timeout 120 \
        --access-logfile "$WORK/logs/access-$port.log" --error-logfile "$WORK/logs/error-$port.log" \
        'app:create_app()' &
    PIDS+=($!)
done
.venv/bin/flask --app app worker > "$WORK/logs/worker.log" 2>&1 &
PIDS+=($!)
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx"
for port in "$WEB1" "$WEB2"; do
    for _ in $(seq 60); do curl -fs -o /dev/null "http://127.0.0.1:$port/login" && break; sleep 0.5; done
done

echo "== checks"
.venv/bin/python deploy/trial_checks.py --https "$HTTPS" --http "$HTTP" --web "$WEB1" "$WEB2"
echo "== backup through deploy/backup.sh"
deploy/backup.sh
.venv/bin/python -m zipfile -l "$WORK"/backups/hallscore-*.zip | tail -n 3

echo "== restore, as the README says: stop the web servers and the worker, restore, start them"
for pid in "${PIDS[@]}"; do kill "$pid"; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()
status=$(curl -sk -o "$WORK/down.html" -w '%{http_code}' "https://127.0.0.1:$HTTPS/login")
echo "through nginx while no app server runs: HTTP $status, $(grep -o '<h1>服务暂时不可用</h1>' "$WORK/down.html" || echo 'no Chinese page')"
psql_count() { .venv/bin/python -c "
import sys; from sqlalchemy import create_engine, text
e = create_engine('$DB_URL'.replace('postgresql://', 'postgresql+psycopg://'))
print(e.connect().scalar(text(sys.argv[1])))" "$1"; }
.venv/bin/python -c "
from sqlalchemy import create_engine, text
e = create_engine('$DB_URL'.replace('postgresql://', 'postgresql+psycopg://'))
with e.begin() as c: c.execute(text(\"UPDATE unit SET name = '改过的名称' WHERE code = 'TRIAL1'\"))"
echo "before: $(psql_count 'SELECT count(*) FROM incident') incidents; unit TRIAL1 renamed after the backup:" \
     "$(psql_count "SELECT name FROM unit WHERE code = 'TRIAL1'")"
.venv/bin/flask --app app restore "$(ls "$WORK"/backups/hallscore-*.zip | head -n 1)" --yes
echo "after:  $(psql_count 'SELECT count(*) FROM incident') incidents, unit TRIAL1: $(psql_count "SELECT name FROM unit WHERE code = 'TRIAL1'")," \
     "evidence files: $(ls "$EVIDENCE_DIR" | wc -l)"
for port in "$WEB1" "$WEB2"; do
    .venv/bin/gunicorn -w 2 -k gthread --threads 8 -b "127.0.0.1:$port" --timeout 120 \
        --access-logfile "$WORK/logs/access-$port.log" --error-logfile "$WORK/logs/error-$port.log" \
        'app:create_app()' &
    PIDS+=($!)
done
for _ in $(seq 60); do curl -fsk -o /dev/null "https://127.0.0.1:$HTTPS/login" && break; sleep 0.5; done
echo "through nginx again: HTTP $(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$HTTPS/login")"
