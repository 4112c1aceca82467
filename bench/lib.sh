# Shell functions the bench scripts share (sourced by run.sh, cluster.sh and large-ab.sh).

log() { echo "== $*" >&2; }

# DOVECOT_PROCS names Dovecot's processes for mailbench's memory and CPU figures.
DOVECOT_PROCS=comm:dovecot+imap+pop3+imap-login+pop3-login+auth+config+anvil+log+indexer+indexer-worker+stats

# wait_port HOST:PORT [TENTHS]: wait until something listens there, TENTHS tenths of a second
# at the most (default 100).
wait_port() {
	for _ in $(seq "${2:-100}"); do
		if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "nothing listens on $1" >&2
	return 1
}

# bench_config SMTP IMAP POP3 [TABLES]: the sealgate.toml of a bench server for gw.test that
# listens on the given plain addresses only ("" turns one off), takes plaintext logins on
# loopback, 1000 connections an address and 64 MiB messages, and has no DNS server (SPF, DKIM
# and DMARC look-ups fail at once, as Postfix does none); TABLES (TOML) follow.
bench_config() {
	cat <<-EOF
		hostname = "gw.test"
		domains = ["gw.test"]
		[listen]
		smtp = "$1"
		submission = ""
		submissions = ""
		imap = "$2"
		imaps = ""
		pop3 = "$3"
		pop3s = ""
		http = ""
		[auth]
		plaintext_on_loopback = true
		[limits]
		max_connections_per_ip = 1000
		max_message_size = "64MiB"
		[dns]
		resolver = "127.0.0.1:1"
		[log]
		level = "warn"
		${4:-}
	EOF
}

# wait_idle PID [DSN]: until the process uses under 5 % of a core over 3 s (the search indexer has
# caught up with the delivery). With DSN (the PostgreSQL store), the database's server processes
# count too: there the indexer's work is mostly the database's, not the process's.
wait_idle() {
	local pids t
	while :; do
		pids=$1
		[ -z "${2:-}" ] || pids+=" $(psql "$2" -Atc 'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')"
		t=$(cpu_ticks $pids)
		sleep 3
		t=$(cpu_ticks $pids | awk 'NR == FNR {t0[$1] = $2; next} $1 in t0 {d += $2 - t0[$1]} END {print d + 0}' <(echo "$t") -)
		[ "$t" -lt 15 ] && return 0
	done
}

# cpu_ticks PID...: "PID TICKS" a line for each process that still runs (user and system time).
cpu_ticks() {
	local p
	for p; do awk -v p="$p" '{print p, $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done
}

# dovecot_passwd DIR [OUT]: Dovecot's passwd file (OUT, default $BENCH/dovecot/passwd) giving
# its bench user the Argon2id hash of the Sealgate account in data directory DIR, so that
# logins cost both servers the same.
dovecot_passwd() {
	local out=${2:-$BENCH/dovecot/passwd}
	python3 - "$1/mail.db" >"$out" <<-'PY'
		import sqlite3, sys
		db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
		(h,) = db.execute("SELECT password_hash FROM users WHERE address = 'bench@gw.test'").fetchone()
		print("bench:{ARGON2ID}" + h)
	PY
	chmod 0644 "$out"
}
