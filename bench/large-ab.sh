#!/bin/bash
# Two Sealgate builds and Dovecot side by side on one large mailbox, so that a change is
# measured against the build before it in the same run, on the same data.
#
#   bench/large-ab.sh setup N   deliver the Maildir of N messages (MAILDIR, by default the
#                               /srv/bench/maildir-N bench/run.sh large made) over SMTP to a
#                               new data directory with the "after" build, time the first
#                               search (DCFIRST=1: Dovecot's too, on a fresh copy of the Maildir),
#                               wait for the indexer, keep the directory as pristine-N
#   bench/large-ab.sh steps N [EXPUNGE] [RUNS]
#                               copy pristine-N for each build, start both and Dovecot, and run
#                               mailbench large over the three (REPEAT=RUNS, default 3; STEPS=
#                               a comma-separated subset), then EXPUNGE messages RUNS times
#   bench/large-ab.sh solo N [EXPUNGE] [RUNS]
#                               the "after" build alone on pristine-N (1,000,000 messages),
#                               which the EXPUNGE runs change: COUNT= the messages it holds now
#
# Builds: BENCH/bin/sealgate-before and BENCH/bin/sealgate-after (go build ./cmd/sealgate at
# the two commits), BENCH/bin/mailbench. BENCH defaults to /srv/bench-large; ports 14xxx
# (before), 17xxx (after), 15xxx (setup and solo; P=18 picks 18xxx), Dovecot on 1143/1110.
# STORE=postgres puts the builds on PostgreSQL (PG_DSN, by default the cluster on
# 127.0.0.1:55440): setup delivers into the database sgab_<BENCH's name>_N (dropped first),
# steps gives each build a copy of it (CREATE DATABASE ... TEMPLATE), solo uses it.
set -euo pipefail
B=${BENCH:-/srv/bench-large}
REPO=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$REPO/bench/peers
MB=$B/bin/mailbench
PASS=benchpass
N=${2:?N}
PRIS=$B/pristine-$N
. "$REPO/bench/lib.sh"
STORE=${STORE:-embedded}
PG_DSN=${PG_DSN:-postgres://postgres@127.0.0.1:55440/postgres?sslmode=disable}
DB=sgab_$(basename "$B" | tr -c 'a-z0-9\n' _)_$N
# db_dsn DB: the DSN of database DB of the cluster (PostgreSQL only; nothing on the embedded store).
db_dsn() { [ "$STORE" != postgres ] || echo "${PG_DSN%%/postgres\?*}/$1?${PG_DSN#*\?}"; }
# storage DB: the [storage] table of a build's configuration on database DB (PostgreSQL only).
storage() {
	[ "$STORE" = postgres ] || return 0
	printf '[storage]\nbackend = "postgres"\ndsn = "%s"\n' "$(db_dsn "$1")"
}
# pg_copy FROM TO: database TO made again as a copy of FROM.
pg_copy() { psql "$PG_DSN" -qc "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2${1:+ TEMPLATE $1}"; }
# bench_passwd DIR: Dovecot's passwd file for the bench account of the build in DIR.
bench_passwd() {
	if [ "$STORE" != postgres ]; then dovecot_passwd "$1" "$B/dovecot/passwd"; return; fi
	echo "bench:{ARGON2ID}$(psql "$(db_dsn "$DB")" -Atc "SELECT password_hash FROM users WHERE address = 'bench@gw.test'")" >"$B/dovecot/passwd"
	chmod 0644 "$B/dovecot/passwd"
}
PIDS=
stop_all() { local p; for p in $PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done; PIDS=; }
trap stop_all EXIT
start() { # BIN DIR IMAP
	"$1" --data "$2" serve >"$2/serve.log" 2>&1 &
	LAST=$!
	PIDS+=" $LAST"
	wait_port "$3" 300
}
dovecot_stop() { doveadm -c "$B/dovecot/dovecot.conf" stop 2>/dev/null || true; }
# dovecot_fresh: Dovecot started again on a fresh copy of the pristine Maildir.
dovecot_fresh() {
	dovecot_stop
	rm -rf "$B/mail/bench" && mkdir -p "$B/mail/bench"
	cp -a "$B/maildir-pristine-$N" "$B/mail/bench/Maildir"
	chown -R vmail:vmail "$B/mail"
	sed "s#/srv/bench#$B#g; s#/run/dovecot-bench#/run/dovecot-bench-large#" "$PEERS/dovecot.conf" >"$B/dovecot/dovecot.conf"
	dovecot -c "$B/dovecot/dovecot.conf"
	wait_port 127.0.0.1:1143
}

case $1 in
setup)
	P=${P:-15}
	rm -rf "$PRIS" && mkdir -p "$PRIS"
	bench_config 127.0.0.1:${P}525 127.0.0.1:${P}143 127.0.0.1:${P}110 "$(storage "$DB")" >"$PRIS/sealgate.toml"
	if [ "$STORE" = postgres ]; then
		pg_copy "" "$DB"
		"$B/bin/sealgate-after" --data "$PRIS" db migrate >/dev/null
	fi
	echo $PASS | "$B/bin/sealgate-after" --data "$PRIS" user add bench@gw.test --password-stdin >/dev/null
	start "$B/bin/sealgate-after" "$PRIS" 127.0.0.1:${P}143
	"$MB" deliver -addr 127.0.0.1:${P}525 -to bench@gw.test -maildir "${MAILDIR:-/srv/bench/maildir-$N}" -sessions 16 | sed "s/^/setup /"
	"$MB" first -server "after,127.0.0.1:${P}143,127.0.0.1:${P}110,bench@gw.test,pid:$LAST" -pass $PASS -n "$N" 2>&1 || true
	log "waiting for the indexer"
	wait_idle "$LAST" "$(db_dsn "$DB")"
	stop_all
	log "maildir for dovecot"
	mkdir -p "$B/dovecot/state"
	bench_passwd "$PRIS"
	id vmail >/dev/null 2>&1 || useradd -r -s /usr/sbin/nologin vmail
	[ -n "${NODOVECOT:-}" ] || { rm -rf "$B/maildir-pristine-$N" && cp -a "${MAILDIR:-/srv/bench/maildir-$N}" "$B/maildir-pristine-$N"; }
	if [ -n "${DCFIRST:-}" ]; then
		dovecot_fresh
		"$MB" first -server "dovecot,127.0.0.1:1143,127.0.0.1:1110,bench,$DOVECOT_PROCS" -pass $PASS -n "$N" 2>&1 || true
		dovecot_stop
	fi
	du -sh "$PRIS"
	;;
steps)
	EXP=${3:-0} RUNS=${4:-3}
	for w in before after; do
		rm -rf "$B/$w" && cp -a "$PRIS" "$B/$w"
		[ "$STORE" != postgres ] || pg_copy "$DB" "${DB}_$w"
	done
	bench_passwd "$PRIS"
	bench_config 127.0.0.1:14525 127.0.0.1:14143 127.0.0.1:14110 "$(storage "${DB}_before")" >"$B/before/sealgate.toml"
	bench_config 127.0.0.1:17525 127.0.0.1:17143 127.0.0.1:17110 "$(storage "${DB}_after")" >"$B/after/sealgate.toml"
	# A build with a newer schema migrates its copy (the database stays the setup build's).
	[ "$STORE" != postgres ] || for w in before after; do "$B/bin/sealgate-$w" --data "$B/$w" db migrate >/dev/null; done
	dovecot_fresh
	start "$B/bin/sealgate-before" "$B/before" 127.0.0.1:14143
	BP=$LAST
	start "$B/bin/sealgate-after" "$B/after" 127.0.0.1:17143
	AP=$LAST
	log "steps"
	"$MB" large -server "before,127.0.0.1:14143,127.0.0.1:14110,bench@gw.test,pid:$BP" \
		-server "after,127.0.0.1:17143,127.0.0.1:17110,bench@gw.test,pid:$AP" \
		-server "dovecot,127.0.0.1:1143,127.0.0.1:1110,bench,$DOVECOT_PROCS" \
		-pass $PASS -n "$N" -runs "$RUNS" -expunge "$EXP" ${STEPS:+-steps "$STEPS"}
	dovecot_stop
	stop_all
	;;
solo)
	# the after build alone on the pristine directory (read-only steps unless EXPUNGE > 0)
	EXP=${3:-0} RUNS=${4:-3}
	start "$B/bin/sealgate-after" "$PRIS" 127.0.0.1:15143
	AP=$LAST
	"$MB" large -server "after,127.0.0.1:15143,127.0.0.1:15110,bench@gw.test,pid:$AP" \
		-pass $PASS -n "${COUNT:-$N}" -runs "$RUNS" -expunge "$EXP" ${STEPS:+-steps "$STEPS"}
	stop_all
	;;
esac
