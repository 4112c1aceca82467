package imapserver_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// Dovecot's imaptest (https://github.com/dovecot/imaptest), the suite IMAP servers are held
// to, run against the real gateway over IMAPS as a fresh user. The kit (binary and scripted
// tests) is taken from $SEALGATE_IMAPTEST_KIT, else /tmp/imaptest-kit, else built there by
// shared/peers/imaptest/build.sh from a directory above the repository.

// imaptestKnownFailures are the compliance groups that still fail, each with the reason.
// A failing group that is not listed fails the test, and so does a listed group that
// passes (take it off the list): the list only ever shrinks.
var imaptestKnownFailures = map[string]string{}

func imaptestKit(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("imaptest takes minutes")
	}
	skip := func(why string) {
		if os.Getenv("SEALGATE_REQUIRE_PEERS") != "" {
			t.Fatalf("imaptest kit: %s, and SEALGATE_REQUIRE_PEERS is set", why)
		}
		t.Skipf("imaptest kit: %s", why)
	}
	kit := os.Getenv("SEALGATE_IMAPTEST_KIT")
	if kit == "" {
		kit = "/tmp/imaptest-kit"
	}
	if _, err := os.Stat(filepath.Join(kit, "imaptest")); err == nil {
		return kit
	}
	build := ""
	dir, _ := filepath.Abs(".")
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "shared", "peers", "imaptest", "build.sh")
		if _, err := os.Stat(p); err == nil {
			build = p
			break
		}
	}
	if build == "" {
		skip("not built and shared/peers/imaptest/build.sh not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "bash", build, kit).CombinedOutput(); err != nil {
		skip("build failed: " + err.Error() + "\n" + string(out))
	}
	return kit
}

// imaptestTarget boots the gateway with a fresh user and returns imaptest's arguments for
// it. With storage set, the gateway keeps its store there.
func imaptestTarget(t *testing.T, storage *config.Storage) []string {
	t.Helper()
	env := startOn(t, storage)
	const user, pw = "imaptest@localhost", "imaptest-secret-pw"
	env.AddUser(user, pw)
	host, port, err := net.SplitHostPort(env.GW.Addr("imaps"))
	if err != nil {
		t.Fatal(err)
	}
	return []string{"host=" + host, "port=" + port, "user=" + user, "pass=" + pw, "ssl=any-cert"}
}

// startOn boots the gateway on storage (nil: the embedded store).
func startOn(t *testing.T, storage *config.Storage) *gatewaytest.Env {
	t.Helper()
	if storage == nil {
		return gatewaytest.Start(t)
	}
	if err := gateway.MigrateStorage(context.Background(), *storage); err != nil {
		t.Fatal(err)
	}
	opts := gateway.Options{MasterKeyFile: filepath.Join(t.TempDir(), "master.key")}
	return gatewaytest.StartWith(t, opts, func(c *config.Config) { c.Storage = *storage })
}

func runImaptest(t *testing.T, kit string, args []string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(kit, "imaptest"), args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("imaptest did not finish: %v\n%s", ctx.Err(), e.String())
	}
	if err != nil {
		t.Logf("imaptest: %v", err) // it exits non-zero when anything failed; judged below
	}
	return o.String(), e.String()
}

func TestImaptestCompliance(t *testing.T) {
	kit := imaptestKit(t)
	args := append(imaptestTarget(t, nil), "test="+filepath.Join(kit, "tests"))
	stdout, stderr := runImaptest(t, kit, args)
	summary := regexp.MustCompile(`(\d+) test groups: (\d+) failed.*`).FindStringSubmatch(stdout)
	base := regexp.MustCompile(`base protocol: (\d+)/(\d+) individual commands failed`).FindStringSubmatch(stdout)
	if summary == nil || base == nil {
		t.Fatalf("no imaptest summary:\n%s\n%s", stdout, stderr)
	}
	groups, _ := strconv.Atoi(summary[1])
	failedN, _ := strconv.Atoi(summary[2])
	t.Logf("imaptest compliance: %d of %d groups pass; base protocol: %s/%s commands failed (%s)",
		groups-failedN, groups, base[1], base[2], summary[0])

	failed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\*\*\* Test (\S+) `).FindAllStringSubmatch(stderr, -1) {
		failed[m[1]] = true
	}
	var unexpected []string
	for g := range failed {
		if _, ok := imaptestKnownFailures[g]; !ok {
			unexpected = append(unexpected, g)
		}
	}
	sort.Strings(unexpected)
	if len(unexpected) > 0 {
		t.Errorf("imaptest groups failed: %s\n%s", strings.Join(unexpected, " "), stderr)
	}
	// Protocol violations imaptest notices outside the scripts' expectations (a keyword
	// used before FLAGS listed it, an unexpected BAD) fail too.
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "Error:") ||
			strings.HasPrefix(l, "Fatal:") || strings.HasPrefix(l, "Panic:") {
			t.Errorf("imaptest: %.300s", l)
		}
	}
	for g, why := range imaptestKnownFailures {
		if !failed[g] {
			t.Errorf("group %q (listed as failing: %s) passes now: take it off imaptestKnownFailures", g, why)
		}
	}
}

// A short run of imaptest's stress mode: 10 clients sending random commands, with imaptest
// checking every response against what each client must have been told (keywords
// announced before use, no expunge where RFC 9051 forbids it, no lost flag update, no
// failure on messages another client expunged).
func TestImaptestStress(t *testing.T) {
	kit := imaptestKit(t)
	// With qresync, imaptest's clients ENABLE QRESYNC and resynchronise with SELECT (QRESYNC):
	// it then checks MODSEQs, VANISHED and UIDs in every FETCH too.
	for _, mode := range [][]string{nil, {"qresync"}} {
		name := strings.Join(append([]string{""}, mode...), "-")
		t.Run("embedded"+name, func(t *testing.T) { imaptestStress(t, kit, nil, mode...) })
		t.Run("postgres"+name, func(t *testing.T) {
			imaptestStress(t, kit, &config.Storage{Backend: config.BackendPostgres, DSN: gatewaytest.PostgresDSN(t)}, mode...)
		})
	}
}

func imaptestStress(t *testing.T, kit string, storage *config.Storage, extra ...string) {
	// 30 s; TestImaptestStressLong is the soak.
	args := append(imaptestTarget(t, storage), stressRun{clients: 10, secs: 30}.args(kit)...)
	args = append(args, extra...)
	stdout, stderr := runImaptest(t, kit, args)
	judgeStress(t, stdout+stderr)
}
