#!/bin/bash
# Two Sealgate builds and Dovecot side by side on one large mailbox (embedded store), so that
# a change is measured against the build before it in the same run, on the same data.
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
#                               the "after" build alone on pristine-N (1,000,000 messages)
#
# Builds: BENCH/bin/sealgate-before and BENCH/bin/sealgate-after (go build ./cmd/sealgate at
# the two commits), BENCH/bin/mailbench. BENCH defaults to /srv/bench-large; ports 14xxx
# (before), 17xxx (after), 15xxx (setup and solo; P=18 picks 18xxx), Dovecot on 1143/1110.
set -euo pipefail
B=${BENCH:-/srv/bench-large}
REPO=$(cd "$(dirname "$0")/.." && pwd)
PEERS=$REPO/bench/peers
MB=$B/bin/mailbench
PASS=benchpass
N=${2:?N}
PRIS=$B/pristine-$N
. "$REPO/bench/lib.sh"
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
	bench_config 127.0.0.1:${P}525 127.0.0.1:${P}143 127.0.0.1:${P}110 >"$PRIS/sealgate.toml"
	echo $PASS | "$B/bin/sealgate-after" --data "$PRIS" user add bench@gw.test --password-stdin >/dev/null
	start "$B/bin/sealgate-after" "$PRIS" 127.0.0.1:${P}143
	"$MB" deliver -addr 127.0.0.1:${P}525 -to bench@gw.test -maildir "${MAILDIR:-/srv/bench/maildir-$N}" -sessions 16 | sed "s/^/setup /"
	"$MB" first -server "after,127.0.0.1:${P}143,127.0.0.1:${P}110,bench@gw.test,pid:$LAST" -pass $PASS -n "$N" 2>&1 || true
	log "waiting for the indexer"
	wait_idle "$LAST"
	stop_all
	log "maildir for dovecot"
	mkdir -p "$B/dovecot/state"
	dovecot_passwd "$PRIS" "$B/dovecot/passwd"
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
	for w in before after; do rm -rf "$B/$w" && cp -a "$PRIS" "$B/$w"; done
	dovecot_passwd "$PRIS" "$B/dovecot/passwd"
	bench_config 127.0.0.1:14525 127.0.0.1:14143 127.0.0.1:14110 >"$B/before/sealgate.toml"
	bench_config 127.0.0.1:17525 127.0.0.1:17143 127.0.0.1:17110 >"$B/after/sealgate.toml"
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
		-pass $PASS -n "$N" -runs "$RUNS" -expunge "$EXP" ${STEPS:+-steps "$STEPS"}
	stop_all
	;;
esac
