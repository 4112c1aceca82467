# Shell functions the bench scripts share (sourced by run.sh and cluster.sh).

log() { echo "== $*" >&2; }

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
