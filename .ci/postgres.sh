# Sourced by .ci/run: a private PostgreSQL cluster for the tests of the postgres backend.
#
# start_postgres installs Debian's postgresql (and postgresql-contrib: pg_trgm) when missing,
# makes a throw-away cluster under a temporary directory, starts it on 127.0.0.1 at
# $SEALGATE_CI_PG_PORT (55433 unless set), waits until it answers, and exports
# SEALGATE_TEST_PG_DSN, the superuser DSN the tests use (gateway/internal/pgtest). The cluster
# is stopped and its directory removed when the calling shell exits. It needs no systemd: the
# cluster is started with pg_ctl. initdb refuses to run as root, so as root the cluster
# belongs to the postgres user.

start_postgres() {
	local port="${SEALGATE_CI_PG_PORT:-55433}"
	if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||
		! ls /usr/share/postgresql/*/extension/pg_trgm.control >/dev/null 2>&1; then
		echo "installing: postgresql postgresql-contrib"
		# The package would make and start a system cluster on port 5432; the tests need
		# none (pg_createcluster reads this drop-in through createcluster.conf's include_dir).
		mkdir -p /etc/postgresql-common/createcluster.d
		echo "create_main_cluster = false  # Sealgate's .ci/postgres.sh: the tests start their own" \
			>/etc/postgresql-common/createcluster.d/sealgate-ci.conf
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >/dev/null
	fi
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
		echo "port $port already has a PostgreSQL server; set SEALGATE_CI_PG_PORT to a free port" >&2
		return 1
	fi

	PG_CI_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sealgate-pg.XXXXXX")
	local as=()
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$PG_CI_DIR"
		as=(runuser -u postgres --)
	fi
	PG_CI_CTL=("${as[@]}" "$bin/pg_ctl" -D "$PG_CI_DIR/data")
	trap stop_postgres EXIT
	"${as[@]}" "$bin/initdb" -D "$PG_CI_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
		--no-sync >"$PG_CI_DIR/initdb.log" 2>&1 || {
		cat "$PG_CI_DIR/initdb.log" >&2
		return 1
	}
	# Only TCP on loopback: the socket goes into the cluster's own directory, not /run.
	"${PG_CI_CTL[@]}" -l "$PG_CI_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $PG_CI_DIR -c max_connections=300" \
		start >/dev/null || {
		cat "$PG_CI_DIR/server.log" >&2
		return 1
	}
	local i
	for i in $(seq 60); do
		"$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
		[ "$i" = 60 ] && { echo "PostgreSQL on 127.0.0.1:$port does not answer" >&2; return 1; }
		sleep 1
	done
	export SEALGATE_TEST_PG_DSN="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	echo "PostgreSQL $("$bin/postgres" -V | awk '{print $3}') on 127.0.0.1:$port for the tests"
}

stop_postgres() {
	if [ -z "${PG_CI_DIR:-}" ]; then
		return 0
	fi
	if [ -f "$PG_CI_DIR/data/postmaster.pid" ]; then
		"${PG_CI_CTL[@]}" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$PG_CI_DIR"
	PG_CI_DIR=
}
