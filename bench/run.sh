#!/bin/bash
# Side-by-side benchmarks of Sealgate against Postfix and Dovecot on this machine, on loopback
# only. Needs root and Debian (apt-get); see docs/PERFORMANCE.md.
#
#   bench/run.sh setup   install Postfix and Dovecot, build Sealgate and bench/mailbench,
#                        generate the 10,000-message mailbox and load it into both
#   bench/run.sh smtp    smtp-source -s 20 -m 20000 -l 10240 into Postfix (Maildir) and into
#                        Sealgate (PGP at rest); accept and end-to-end rates, peak RSS
#   bench/run.sh imap    FETCH ENVELOPE, full download, SEARCH BODY, login rate
#   bench/run.sh pop3    pipelined download of the whole maildrop
#   bench/run.sh mem     a 50 MiB message through the PGP pipeline: RSS growth
#   bench/run.sh all     setup, then everything (not large)
#   bench/run.sh large [N]  a mailbox of N messages (100,000 by default; 1000000 on request)
#                        delivered over SMTP to Sealgate (embedded and PostgreSQL stores) and
#                        copied as the same Maildir to Dovecot; the first search after the
#                        delivery, then SELECT, STATUS, newest-50 FETCH, flag resync, searches,
#                        POP3 and EXPUNGE side by side, interleaved, with each server's peak RSS
#   bench/run.sh imaptest  imaptest stress (10 clients, 30 s) against Sealgate and Dovecot
#
# Environment: BENCH=/srv/bench (work directory), REPEAT=3 (runs of the SMTP ingest and of
# each large-mailbox step; the median is printed), MESSAGES=20000, MAILBOX=10000,
# BACKENDS="embedded postgres" (large), NOBUILD=1 (large: use the binaries in BENCH/bin), PG_DSN (large; the PostgreSQL server for the
# postgres backend; the database sealgate_large on it is dropped and created).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-/srv/bench}
REPEAT=${REPEAT:-3}
MESSAGES=${MESSAGES:-20000}
MAILBOX=${MAILBOX:-10000}
PEERS=$REPO/bench/peers
SG=$BENCH/bin/sealgate
MB=$BENCH/bin/mailbench
PASS=benchpass
# Sealgate's listeners (never a standard port): SMTP (MX role), IMAP, POP3.
SG_SMTP=127.0.0.1:12525 SG_IMAP=127.0.0.1:12143 SG_POP3=127.0.0.1:12110
DC_IMAP=127.0.0.1:1143 DC_POP3=127.0.0.1:1110

. "$REPO/bench/lib.sh"

# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "-"; else printf "%.2f", a/b }'; }
median() { sort -n | awk '{v[NR]=$1} END{ if (NR == 0) print 0; else print v[int((NR+1)/2)] }'; }
row() { printf '%-40s %14s %14s %8s   %s\n' "$@"; }
# figure OUT KEY: the value on the "KEY value" line of mailbench's output OUT.
figure() { awk -v k="$2" '$1 == k {print $2}' <<<"$1"; }
# versus LABEL KEY NOTE: a row of the figure KEY as Sealgate ($s) and Dovecot ($d) measured it.
versus() { row "$1" "$(figure "$s" "$2")" "$(figure "$d" "$2")" "$(ratio "$(figure "$s" "$2")" "$(figure "$d" "$2")")" "$3"; }

setup() {
	log "packages"
	if ! command -v smtp-source >/dev/null || ! command -v dovecot >/dev/null; then
		echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
		echo "postfix postfix/mailname string gw.test" | debconf-set-selections
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y postfix dovecot-imapd dovecot-pop3d python3
	fi
	mkdir -p "$BENCH/bin"
	log "build sealgate and mailbench"
	(cd "$REPO" && go build -o "$SG" ./cmd/sealgate && go build -o "$MB" ./bench/mailbench)

	log "postfix on 127.0.0.1:25, Maildir delivery"
	bash "$PEERS/postfix_setup.sh" >/dev/null
	postfix stop >/dev/null 2>&1 || true
	# The Debian service may hold the ports; the benchmark runs its own instances.
	systemctl stop dovecot postfix >/dev/null 2>&1 || true

	log "mailbox of $MAILBOX messages"
	id vmail >/dev/null 2>&1 || useradd -r -s /usr/sbin/nologin vmail
	rm -rf "$BENCH/mail" "$BENCH/maildir"
	python3 "$PEERS/gen_maildir.py" "$BENCH/maildir" "$MAILBOX" 100
	mkdir -p "$BENCH/mail/bench" "$BENCH/dovecot/state"
	cp -a "$BENCH/maildir" "$BENCH/mail/bench/Maildir"
	chown -R vmail:vmail "$BENCH/mail"
	sed "s#/srv/bench#$BENCH#g" "$PEERS/dovecot.conf" >"$BENCH/dovecot/dovecot.conf"

	log "sealgate mailbox (IMAP APPEND of the same files)"
	sg_fresh "$BENCH/sg-imap"
	sg_start "$BENCH/sg-imap"
	"$MB" append -addr $SG_IMAP -user bench@gw.test -pass $PASS -maildir "$BENCH/maildir"
	sg_stop
	dovecot_passwd "$BENCH/sg-imap"
}

# sg_fresh DIR [SMTP IMAP POP3 DSN]: a new data directory with a config on the bench ports (or
# those given; a PostgreSQL store when DSN is set) and user bench@gw.test.
sg_fresh() {
	rm -rf "$1" && mkdir -p "$1"
	local storage=""
	[ -n "${5:-}" ] && storage=$'[storage]\nbackend = "postgres"\ndsn = "'"$5"'"'
	bench_config "${2:-$SG_SMTP}" "${3:-$SG_IMAP}" "${4:-$SG_POP3}" "$storage" >"$1/sealgate.toml"
	[ -n "${5:-}" ] && "$SG" --data "$1" db migrate >/dev/null
	echo $PASS | "$SG" --data "$1" user add bench@gw.test --password-stdin >/dev/null
}

SG_PID=
# sg_start DIR [IMAP]: serve DIR in the background; SG_PID is its process.
sg_start() {
	"$SG" --data "$1" serve >"$1/serve.log" 2>&1 &
	SG_PID=$!
	SG_PIDS+=" $SG_PID"
	wait_port "${2:-$SG_IMAP}"
}
sg_stop() {
	[ -n "$SG_PID" ] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null || true
	SG_PID=
}
SG_PIDS=
sg_stop_all() {
	local p
	for p in $SG_PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
	SG_PIDS= SG_PID=
}
trap sg_stop_all EXIT

dovecot_start() {
	dovecot -c "$BENCH/dovecot/dovecot.conf" 2>/dev/null || true
	wait_port $DC_IMAP
}
dovecot_stop() { doveadm -c "$BENCH/dovecot/dovecot.conf" stop 2>/dev/null || true; }

vm() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

bench_smtp() {
	local sa=() se=() pa=() pe=() rss=()
	for i in $(seq "$REPEAT"); do
		log "sealgate ingest, run $i: PGP at rest"
		sg_fresh "$BENCH/sg-ingest"
		"$SG" --data "$BENCH/sg-ingest" keys generate bench@gw.test --pgp >/dev/null
		"$SG" --data "$BENCH/sg-ingest" policy set bench@gw.test inbound.encrypt=pgp >/dev/null
		sg_start "$BENCH/sg-ingest"
		local s e n
		s=$(date +%s.%N)
		smtp-source -s 20 -m "$MESSAGES" -l 10240 -f sender@example.org -t bench@gw.test $SG_SMTP
		e=$(date +%s.%N)
		rss+=("$(vm $SG_PID VmHWM)")
		n=$("$MB" count -addr $SG_IMAP -user bench@gw.test -pass $PASS)
		sg_stop
		[ "$n" = "$MESSAGES" ] || { echo "sealgate stored $n of $MESSAGES" >&2; exit 1; }
		sa+=("$(awk -v s="$s" -v e="$e" -v m="$MESSAGES" 'BEGIN{printf "%.0f", m/(e-s)}')")
		log "postfix ingest, run $i: Maildir"
		postfix start >/dev/null 2>&1
		local out
		out=$(bash "$PEERS/postfix_bench.sh" maildir "$MESSAGES" 20)
		postfix stop >/dev/null 2>&1
		echo "$out" >&2
		grep -q "maildir_files=$MESSAGES" <<<"$out" || { echo "postfix delivered fewer than $MESSAGES" >&2; exit 1; }
		pa+=("$(sed -n 's/.*accept=[0-9.]*s (\([0-9]*\) msg\/s).*/\1/p' <<<"$out")")
		pe+=("$(sed -n 's/.*end-to-end=[0-9.]*s (\([0-9]*\) msg\/s).*/\1/p' <<<"$out")")
	done
	local SA PA PE RSS
	SA=$(printf '%s\n' "${sa[@]}" | median)
	PA=$(printf '%s\n' "${pa[@]}" | median)
	PE=$(printf '%s\n' "${pe[@]}" | median)
	RSS=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
	echo
	row "SMTP ingest, $MESSAGES x 10 KiB, 20 sessions" Sealgate Postfix ratio "(median of $REPEAT; Sealgate runs: ${sa[*]}; Postfix: ${pa[*]} / ${pe[*]})"
	row "durable accept, msg/s" "$SA" "$PA" "$(ratio "$SA" "$PA")" "target >= 2"
	row "end-to-end into the mailbox, msg/s" "$SA" "$PE" "$(ratio "$SA" "$PE")" "target >= 2"
	row "sealgate serve peak RSS (VmHWM), MiB" "$((RSS / 1024))" "" "" "target <= 256 (worst run)"
}

# both MODE DOVECOT SEALGATE [ARG...]: mailbench MODE against the Dovecot and the Sealgate
# address, each as its bench user; the outputs are added to $d and $s.
both() {
	local mode=$1 dc=$2 sg=$3
	shift 3
	d+=$'\n'$("$MB" "$mode" -addr "$dc" -user bench -pass $PASS "$@")
	s+=$'\n'$("$MB" "$mode" -addr "$sg" -user bench@gw.test -pass $PASS "$@")
}

bench_imap() {
	dovecot_start
	sg_start "$BENCH/sg-imap"
	local d= s=
	both imap $DC_IMAP $SG_IMAP -expect "$MAILBOX"
	both login $DC_IMAP $SG_IMAP
	sg_stop
	dovecot_stop
	echo
	row "IMAP, $MAILBOX messages (median of 5, warm)" Sealgate Dovecot ratio
	versus "FETCH 1:* (FLAGS ENVELOPE), ms" imap_fetch_envelope "target <= 1"
	versus "UID FETCH 1:* BODY.PEEK[], ms" imap_fetch_body \
		"target <= 1; bytes $(figure "$s" imap_body_bytes) / $(figure "$d" imap_body_bytes)"
	versus "SEARCH BODY \"needle\", ms" imap_search_body \
		"target <= 0.5; hits $(figure "$s" imap_search_hits) / $(figure "$d" imap_search_hits)"
	versus "LOGIN + LOGOUT, per second" imap_logins_per_s "higher is better"
}

bench_pop3() {
	dovecot_start
	sg_start "$BENCH/sg-imap"
	local d= s=
	both pop3 $DC_POP3 $SG_POP3 -expect "$MAILBOX"
	sg_stop
	dovecot_stop
	echo
	row "POP3, $MAILBOX messages (median of 5)" Sealgate Dovecot ratio
	versus "pipelined RETR of all, ms" pop3_download "target <= 1; bytes $(figure "$s" pop3_bytes) / $(figure "$d" pop3_bytes)"
}

bench_mem() {
	sg_fresh "$BENCH/sg-mem"
	"$SG" --data "$BENCH/sg-mem" keys generate bench@gw.test --pgp >/dev/null
	"$SG" --data "$BENCH/sg-mem" policy set bench@gw.test inbound.encrypt=pgp >/dev/null
	sg_start "$BENCH/sg-mem"
	# Warm up with a small message, then reset the peak (clear_refs 5) and send 50 MiB.
	"$MB" send -addr $SG_SMTP -to bench@gw.test -size 10240 >/dev/null
	local before after out
	before=$(vm $SG_PID VmRSS)
	echo 5 >"/proc/$SG_PID/clear_refs"
	out=$("$MB" send -addr $SG_SMTP -to bench@gw.test -size $((50 << 20)))
	after=$(vm $SG_PID VmHWM)
	sg_stop
	echo
	row "50 MiB message, PGP at rest" Sealgate "" "" 
	row "RSS before, MiB" "$((before / 1024))"
	row "peak RSS during, MiB" "$((after / 1024))"
	row "growth, MiB" "$(((after - before) / 1024))" "" "" "target <= 64; $out"
}

. "$REPO/bench/large.sh"

case "${1:-all}" in
setup) setup ;;
smtp) bench_smtp ;;
imap) bench_imap ;;
pop3) bench_pop3 ;;
mem) bench_mem ;;
large) bench_large "${2:-100000}" ;;
imaptest) bench_imaptest ;;
all) setup; bench_smtp; bench_imap; bench_pop3; bench_mem ;;
*) sed -n '2,26p' "$0"; exit 2 ;;
esac
