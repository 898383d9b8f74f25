#!/usr/bin/env bash
# A thingport cluster on this machine, for trying it out (docs/cluster.md): N NATS servers
# (1-3, clustered with each other), one PostgreSQL, M thingport nodes (2-3) on it and HAProxy
# with deploy/haproxy.cfg in front of them. Prints how to connect; Ctrl-C stops everything it
# started (and only that). Everything lives in a temp dir, removed at the end.
#
#   scripts/cluster.sh [NODES=2] [NATS_SERVERS=1]
#
# The binary: $THINGPORT_BIN, else build/release/src/app/thingport (cmake --preset release &&
# cmake --build --preset release --target thingport). Needs nats-server, haproxy and
# PostgreSQL 15 (scripts/deps-test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NODES=${1:-2}
NATS_N=${2:-1}
[[ $NODES =~ ^[23]$ ]] || { echo "cluster.sh: NODES must be 2 or 3" >&2; exit 2; }
[[ $NATS_N =~ ^[123]$ ]] || { echo "cluster.sh: NATS_SERVERS must be 1, 2 or 3" >&2; exit 2; }
BIN=${THINGPORT_BIN:-$ROOT/build/release/src/app/thingport}
[ -x "$BIN" ] || { echo "cluster.sh: no $BIN (build it, or set THINGPORT_BIN)" >&2; exit 1; }
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
for t in nats-server haproxy "$PGBIN/pg_ctl"; do
  command -v "$t" >/dev/null || { echo "cluster.sh: $t not found (scripts/deps-test.sh)" >&2; exit 1; }
done

W=$(mktemp -d /tmp/thingport-cluster-XXXXXX)
chmod 755 "$W"
PIDS=()
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# Waits (at most 15 s) until host:port accepts.
wait_port() {
  for _ in $(seq 150); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "cluster.sh: nothing listens on $1:$2 (logs in $W)" >&2
  return 1
}

cleanup() {
  trap - INT TERM EXIT
  echo; echo "cluster.sh: stopping"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -f "$W/pg/data/postmaster.pid" ] &&
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$W/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup INT TERM EXIT

# --- NATS ---
NATS_URLS=()
ROUTE_PORTS=()
for i in $(seq "$NATS_N"); do
  NATS_URLS+=("nats://127.0.0.1:$(free_port)")
  ROUTE_PORTS+=("$(free_port)")
done
for i in $(seq 0 $((NATS_N - 1))); do
  port=${NATS_URLS[$i]##*:}
  # JetStream (the retained messages), a name and a store directory each
  args=(-a 127.0.0.1 -p "$port" -js -sd "$W/nats-$i" -n "nats-$i")
  if [ "$NATS_N" -gt 1 ]; then
    routes=()
    for j in $(seq 0 $((NATS_N - 1))); do
      [ "$j" -eq "$i" ] || routes+=("nats://127.0.0.1:${ROUTE_PORTS[$j]}")
    done
    args+=(--cluster_name thingport --cluster "nats://127.0.0.1:${ROUTE_PORTS[$i]}"
           --routes "$(IFS=,; echo "${routes[*]}")")
  fi
  nats-server "${args[@]}" >"$W/nats-$i.log" 2>&1 &
  PIDS+=($!)
  wait_port 127.0.0.1 "$port"
done
NATS=$(IFS=,; echo "${NATS_URLS[*]}")

# --- PostgreSQL ---
mkdir -p "$W/pg"
[ ${#AS_PG[@]} -eq 0 ] || chown postgres "$W/pg"
PGPORT=$(free_port)
"${AS_PG[@]}" "$PGBIN/initdb" -D "$W/pg/data" -U thingport --auth=trust -E UTF8 --no-locale \
  >"$W/pg/initdb.log" 2>&1
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$W/pg/data" -l "$W/pg/log" -w start \
  -o "-p $PGPORT -k $W/pg -c listen_addresses=127.0.0.1" >/dev/null
"$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U thingport thingport
PGURL="postgresql://thingport@127.0.0.1:$PGPORT/thingport"

# --- nodes: each on its own loopback address, the same MQTT port (deploy/haproxy.cfg) ---
NODE_PORT=$(free_port)
NODE_TLS_PORT=$(free_port) # no TLS here: HAProxy's checks mark that backend down
HTTP=()
for i in $(seq "$NODES"); do
  name=$(printf "node-%s" "$(echo abc | cut -c"$i")")
  addr="127.0.0.1$i"
  http=$(free_port)
  HTTP+=("$http")
  mkdir -p "$W/$name"
  cat >"$W/$name/thingport.toml" <<TOML
data_dir = "$W/$name/data"
[listeners]
tcp = { address = "$addr:$NODE_PORT", proxy_protocol = true }
tls = ""
ws = ""
wss = ""
[http]
listen = "127.0.0.1:$http"
[store]
backend = "postgres"
url = "$PGURL"
[cluster]
nats = "$NATS"
node = "$name"
replicas = $(( NATS_N >= 3 ? 3 : 1 ))
TOML
  "$BIN" serve --config "$W/$name/thingport.toml" >"$W/$name/log" 2>&1 &
  PIDS+=($!)
  wait_port 127.0.0.1 "$http"
done

# --- HAProxy ---
MQTT_PORT=${MQTT_PORT:-$(free_port)}
MQTT_BIND="127.0.0.1:$MQTT_PORT" MQTTS_BIND="127.0.0.1:$(free_port)" \
  NODE_A=127.0.0.11 NODE_B=127.0.0.12 NODE_C=127.0.0.13 \
  NODE_MQTT_PORT=$NODE_PORT NODE_MQTTS_PORT=$NODE_TLS_PORT \
  haproxy -db -f "$ROOT/deploy/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
PIDS+=($!)
wait_port 127.0.0.1 "$MQTT_PORT"

TOKEN=$(cat "$W/node-a/data/admin.token")
cat <<EOF2

thingport cluster: $NODES nodes, $NATS_N NATS server(s) ($NATS), PostgreSQL at $PGURL
  MQTT through HAProxy:  127.0.0.1:$MQTT_PORT   (devices spread over the nodes, leastconn)
$(for i in $(seq "$NODES"); do echo "  node-$(echo abc | cut -c"$i") API:  http://127.0.0.1:${HTTP[$((i - 1))]}"; done)
  admin token (the same on every node): $TOKEN

  curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:${HTTP[0]}/api/v1/cluster
  A demo device was printed in $W/node-a/log; sign it with
  $BIN sign --pk PK --dn DN --ds SECRET, then e.g.
  mosquitto_sub -p $MQTT_PORT -i CLIENTID -u USERNAME -P PASSWORD -t '/PK/DN/user/get' -v
Logs: $W. Ctrl-C stops everything.
EOF2
wait -n "${PIDS[@]}" || true
echo "cluster.sh: a process exited; logs in $W:"; tail -5 "$W"/*/log "$W"/*.log 2>/dev/null || true
