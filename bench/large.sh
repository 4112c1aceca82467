# Large-mailbox mode of bench/run.sh (sourced by it): `bench/run.sh large [N]`.
#
# One Maildir of N messages (bench/peers/gen_maildir.py, one in a hundred containing "needle")
# goes to Dovecot as files and to Sealgate through its MX listener (16 SMTP sessions, the whole
# ingestion path: SPF/DKIM/DMARC, policy, the store's group commit, the search indexer), once
# per backend. Then, with every server running:
#   - the first search: login, SELECT, UID SEARCH BODY "needle" the moment the last message is
#     accepted (Sealgate) or on the Maildir nobody has opened yet (Dovecot), once each;
#   - every step of mailbench large, REPEAT times after a warm-up round, interleaved step by
#     step and server by server so the machine's load falls on all alike; the median, and the
#     peak RSS (VmHWM) of `sealgate serve`, or the sum over Dovecot's processes, during the step;
#   - EXPUNGE of 10,000 (a tenth of the mailbox when that is smaller) REPEAT times.
# Sealgate instances: embedded on 12525/12143/12110, PostgreSQL on 13525/13143/13110.

LARGE_PG_DSN=${PG_DSN:-postgres://postgres@127.0.0.1:55440/postgres?sslmode=disable}

bench_large() {
	local n=$1 md="$BENCH/maildir-$1" backends=${BACKENDS:-embedded postgres}
	local expunge=$((n / 10 < 10000 ? n / 10 : 10000))
	local out="$BENCH/large-$n.txt"
	mkdir -p "$BENCH/bin" "$BENCH/dovecot/state"
	if [ ! -x /usr/lib/dovecot/pop3 ] || [ ! -x /usr/lib/dovecot/imap ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd dovecot-pop3d
	fi
	if [ -z "${NOBUILD:-}" ]; then
		log "build sealgate and mailbench"
		(cd "$REPO" && go build -o "$SG" ./cmd/sealgate && go build -o "$MB" ./bench/mailbench)
	fi
	if [ ! -d "$md/cur" ]; then
		log "maildir of $n messages"
		python3 "$PEERS/gen_maildir.py" "$md.tmp" "$n" 100 && mv "$md.tmp" "$md"
	fi
	: >"$out"
	local servers=() b dir smtp imap pop3 dsn
	for b in $backends; do
		case $b in
		embedded) dir=$BENCH/sg-large-emb smtp=$SG_SMTP imap=$SG_IMAP pop3=$SG_POP3 dsn= ;;
		postgres)
			dir=$BENCH/sg-large-pg smtp=127.0.0.1:13525 imap=127.0.0.1:13143 pop3=127.0.0.1:13110
			dsn=${LARGE_PG_DSN%%/postgres\?*}/sealgate_large?${LARGE_PG_DSN#*\?}
			psql "$LARGE_PG_DSN" -qc 'DROP DATABASE IF EXISTS sealgate_large' -c 'CREATE DATABASE sealgate_large'
			;;
		*) echo "unknown backend $b" >&2; return 2 ;;
		esac
		log "sealgate ($b): deliver $n messages over SMTP"
		sg_fresh "$dir" "$smtp" "$imap" "$pop3" "$dsn"
		sg_start "$dir" "$imap"
		"$MB" deliver -addr "$smtp" -to bench@gw.test -maildir "$md" -sessions 16 | sed "s/^/sealgate-$b /" | tee -a "$out"
		# A failed first search (the server's command timeout) is recorded, not fatal.
		"$MB" first -server "sealgate-$b,$imap,$pop3,bench@gw.test,pid:$SG_PID" -pass $PASS -n "$n" 2>&1 | tee -a "$out" || true
		log "sealgate ($b): waiting for the indexer to finish"
		wait_idle "$SG_PID" "$dsn"
		echo "sealgate-$b rss_after_delivery_kib $(vm "$SG_PID" VmRSS)" | tee -a "$out"
		servers+=(-server "sealgate-$b,$imap,$pop3,bench@gw.test,pid:$SG_PID")
		[ "$b" = embedded ] && dovecot_passwd "$dir"
	done
	[ -s "$BENCH/dovecot/passwd" ] || dovecot_passwd "$BENCH/sg-large-emb"
	log "dovecot: the same Maildir as files"
	id vmail >/dev/null 2>&1 || useradd -r -s /usr/sbin/nologin vmail
	dovecot_stop
	rm -rf "$BENCH/mail/bench"
	mkdir -p "$BENCH/mail/bench"
	cp -a "$md" "$BENCH/mail/bench/Maildir"
	chown -R vmail:vmail "$BENCH/mail"
	sed "s#/srv/bench#$BENCH#g" "$PEERS/dovecot.conf" >"$BENCH/dovecot/dovecot.conf"
	dovecot_start
	local dc="dovecot,$DC_IMAP,$DC_POP3,bench,$DOVECOT_PROCS"
	"$MB" first -server "$dc" -pass $PASS -n "$n" 2>&1 | tee -a "$out" || true
	servers+=(-server "$dc")
	log "steps, $REPEAT runs each after a warm-up, interleaved"
	"$MB" large "${servers[@]}" -pass $PASS -n "$n" -runs "$REPEAT" -expunge "$expunge" | tee -a "$out"
	dovecot_stop
	sg_stop_all
	large_table "$out" "$n"
}

# large_table FILE N: each step's median per server and its ratio to Dovecot's.
large_table() {
	echo
	echo "Large mailbox, $2 messages (median of $REPEAT, ms; peak RSS MiB; ratio = Sealgate / Dovecot)"
	awk '
		$2 == "deliver_per_s" { rate[$1] = $3; next }
		NF >= 4 && $2 != "deliver_ms" && $2 != "rss_after_delivery_kib" {
			ms[$1, $2] = $3; kib[$1, $2] = $4
			if (!($2 in seen)) { seen[$2] = 1; order[++k] = $2 }
			if (!($1 in sv) && $1 != "dovecot") { sv[$1] = 1; svs[++m] = $1 }
		}
		END {
			printf "%-26s", "step"
			for (j = 1; j <= m; j++) printf " %22s %6s", svs[j] " ms/MiB", "ratio"
			printf " %18s\n", "dovecot ms/MiB"
			for (i = 1; i <= k; i++) {
				s = order[i]; d = ms["dovecot", s]
				printf "%-26s", s
				for (j = 1; j <= m; j++) {
					if (!((svs[j], s) in ms)) { printf " %22s %6s", "failed", "-"; continue }
					r = (d > 0) ? sprintf("%.2f", ms[svs[j], s] / d) : "-"
					printf " %14.1f / %5d %6s", ms[svs[j], s], kib[svs[j], s] / 1024, r
				}
				printf " %10.1f / %5d\n", d, kib["dovecot", s] / 1024
			}
			for (j = 1; j <= m; j++) printf "%s delivery: %s msg/s\n", svs[j], rate[svs[j]]
		}' "$1"
}

# bench_imaptest: imaptest's stress mode (random commands from 10 clients with imaptest's own
# tracking of what each must see, SECS=30, the kit's default.mbox) against an empty INBOX on
# Sealgate (embedded store) and on Dovecot, alternately, REPEAT times; commands per second
# and imaptest's error count for each. Needs the kit: IMAPTEST_KIT, default /tmp/imaptest-kit, built by
# shared/peers/imaptest/build.sh.
bench_imaptest() {
	local kit=${IMAPTEST_KIT:-/tmp/imaptest-kit} secs=${SECS:-30} out="$BENCH/imaptest.txt"
	[ -x "$kit/imaptest" ] || { echo "no imaptest kit at $kit" >&2; return 2; }
	mkdir -p "$BENCH/bin" "$BENCH/dovecot/state"
	if [ -z "${NOBUILD:-}" ]; then
		(cd "$REPO" && go build -o "$SG" ./cmd/sealgate)
	fi
	: >"$out"
	local i
	for i in $(seq "$REPEAT"); do
		sg_fresh "$BENCH/sg-stress"
		echo $PASS | "$SG" --data "$BENCH/sg-stress" user add stress@gw.test --password-stdin >/dev/null
		sg_start "$BENCH/sg-stress"
		log "imaptest stress against sealgate, run $i"
		CLIENTS=10 SECS=$secs MBOX="$kit/tests/default.mbox" LOGDIR="$BENCH/imaptest-sg-$i" \
			"$kit/run_imaptest.sh" 127.0.0.1 "${SG_IMAP#*:}" stress@gw.test $PASS stress 2>&1 |
			awk -v n=sealgate '$1 == "ALL" {print n, "cmds_per_s", $3} /errors reported/ {print n, "errors", $NF}' | tee -a "$out" || true
		sg_stop
		dovecot_passwd "$BENCH/sg-stress"
		sed 's/^bench:/stress:/' "$BENCH/dovecot/passwd" >>"$BENCH/dovecot/passwd"
		dovecot_stop
		rm -rf "$BENCH/mail/stress" && mkdir -p "$BENCH/mail/stress/Maildir" && chown -R vmail:vmail "$BENCH/mail/stress"
		sed "s#/srv/bench#$BENCH#g" "$PEERS/dovecot.conf" >"$BENCH/dovecot/dovecot.conf"
		dovecot_start
		log "imaptest stress against dovecot, run $i"
		CLIENTS=10 SECS=$secs MBOX="$kit/tests/default.mbox" LOGDIR="$BENCH/imaptest-dc-$i" \
			"$kit/run_imaptest.sh" 127.0.0.1 "${DC_IMAP#*:}" stress $PASS stress 2>&1 |
			awk -v n=dovecot '$1 == "ALL" {print n, "cmds_per_s", $3} /errors reported/ {print n, "errors", $NF}' | tee -a "$out" || true
		dovecot_stop
	done
	echo
	awk -v r="$REPEAT" '
		$2 == "cmds_per_s" { v[$1] = v[$1] " " $3 }
		$2 == "errors" { e[$1] += $3 }
		END {
			printf "imaptest stress, 10 clients, %d runs: commands/s (errors)\n", r
			for (s in v) printf "  %-10s %s  (%d errors)\n", s, v[s], e[s]
		}' "$out"
}
