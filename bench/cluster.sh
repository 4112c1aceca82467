#!/bin/bash
# Ingest of 1, 2 and 3 Sealgate nodes sharing one PostgreSQL database, on loopback; see
# docs/SCALING.md. Every node is a `sealgate serve` with its own data directory and ports and
# the same master key file; smtp-source (Postfix's) sends 10 KiB messages over SESSIONS
# sessions in all, split evenly between the nodes.
#
#   bench/cluster.sh [NODES...]      default: 1 2 3
#
# Environment:
#   PG_DSN     a PostgreSQL DSN allowed to create databases (default $SEALGATE_TEST_PG_DSN);
#              the database sealgate_bench_cluster is dropped and made again for every run
#   MESSAGES   messages per run (default 3000)
#   SESSIONS   SMTP sessions in all (default 20)
#   SPREAD     1: node i's sessions write to the mailbox of their own user (bench1@, bench2@,
#              ...); 0 (default): every session writes to one mailbox
#   BENCH      work directory (default /tmp/sealgate-cluster-bench)
#
# It prints, per run: nodes, messages, seconds, msg/s, database transactions per message
# (pg_stat_database.xact_commit over the run: every node's statements, read-only ones
# included), and the CPU seconds the nodes used from their start to the end of the run,
# after checking over IMAP that every message is in its mailbox.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PG_DSN=${PG_DSN:-${SEALGATE_TEST_PG_DSN:-}}
MESSAGES=${MESSAGES:-3000}
SESSIONS=${SESSIONS:-20}
SPREAD=${SPREAD:-0}
BENCH=${BENCH:-/tmp/sealgate-cluster-bench}
DB=sealgate_bench_cluster
PASS=benchpass
SG=$BENCH/bin/sealgate
MB=$BENCH/bin/mailbench
NODES=("$@")
[ ${#NODES[@]} -gt 0 ] || NODES=(1 2 3)

[ -n "$PG_DSN" ] || { echo "set PG_DSN (or SEALGATE_TEST_PG_DSN) to a PostgreSQL DSN that may create databases" >&2; exit 2; }
command -v smtp-source >/dev/null || { echo "smtp-source (Debian: postfix) is needed" >&2; exit 2; }
command -v psql >/dev/null || { echo "psql (Debian: postgresql-client) is needed" >&2; exit 2; }

. "$REPO/bench/lib.sh"

# The DSN of the bench database: PG_DSN with its database name replaced.
BENCH_DSN=$(python3 -c 'import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$PG_DSN" "$DB")

mkdir -p "$BENCH/bin"
log "build sealgate and mailbench"
(cd "$REPO" && go build -o "$SG" ./cmd/sealgate && go build -o "$MB" ./bench/mailbench)

PIDS=()
stop_nodes() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap stop_nodes EXIT

smtp_addr() { echo "127.0.0.1:$((13525 + 100 * $1))"; }
imap_addr() { echo "127.0.0.1:$((13143 + 100 * $1))"; }

node_config() { # DIR I
	mkdir -p "$1"
	chmod 700 "$1"
	bench_config "$(smtp_addr "$2")" "$(imap_addr "$2")" "" "[storage]
backend = \"postgres\"
dsn = \"$BENCH_DSN\"
[keys]
master_key_file = \"$BENCH/master.key\"" >"$1/sealgate.toml"
}

# cpu PID...: user+system CPU seconds the processes have used.
cpu() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk -v hz="$(getconf CLK_TCK)" '{t += $1} END {printf "%.1f", t / hz}'; }

commits() { psql -qtAX "$PG_DSN" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$DB'"; }

printf '%-6s %-8s %8s %8s %14s %14s\n' nodes messages seconds msg/s commits/msg node-cpu-s
for n in "${NODES[@]}"; do
	log "$n node(s): fresh database $DB"
	psql -qX "$PG_DSN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
	rm -rf "$BENCH"/node* "$BENCH/master.key"
	for i in $(seq "$n"); do node_config "$BENCH/node$i" "$i"; done
	"$SG" --data "$BENCH/node1" db migrate
	users=()
	for i in $(seq "$n"); do
		u=bench@gw.test
		[ "$SPREAD" = 1 ] && u=bench$i@gw.test
		[ "$i" = 1 ] || [ "$SPREAD" = 1 ] || { users+=("$u"); continue; }
		echo "$PASS" | "$SG" --data "$BENCH/node1" user add "$u" --password-stdin >/dev/null
		users+=("$u")
	done
	for i in $(seq "$n"); do
		"$SG" --data "$BENCH/node$i" serve >"$BENCH/node$i/serve.log" 2>&1 &
		PIDS+=($!)
	done
	for i in $(seq "$n"); do wait_port "$(smtp_addr "$i")" 200; done
	sleep 2 # the statistics lag by up to a second
	c0=$(commits)
	s=$(date +%s.%N)
	senders=()
	for i in $(seq "$n"); do
		sess=$(((SESSIONS + n - i) / n)) msgs=$(((MESSAGES + n - i) / n))
		smtp-source -s "$sess" -m "$msgs" -l 10240 -f sender@example.org -t "${users[$((i - 1))]}" "$(smtp_addr "$i")" &
		senders+=($!)
	done
	for p in "${senders[@]}"; do wait "$p"; done
	e=$(date +%s.%N)
	sleep 2
	c1=$(commits)
	ncpu=$(cpu "${PIDS[@]}")
	total=0
	for u in $(printf '%s\n' "${users[@]}" | sort -u); do
		total=$((total + $("$MB" count -addr "$(imap_addr 1)" -user "$u" -pass $PASS)))
	done
	stop_nodes
	[ "$total" = "$MESSAGES" ] || { echo "stored $total of $MESSAGES" >&2; exit 1; }
	awk -v n="$n" -v m="$MESSAGES" -v s="$s" -v e="$e" -v c="$((c1 - c0))" -v cpu="$ncpu" \
		'BEGIN{ printf "%-6d %-8d %8.1f %8.0f %14.2f %14.1f\n", n, m, e-s, m/(e-s), c/m, cpu }'
done
