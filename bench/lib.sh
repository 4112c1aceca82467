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
