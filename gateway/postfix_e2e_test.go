package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/delivery/deliverytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/keys"
)

// The Postfix integration recipe of docs/GATEWAY.md, with the real Debian Postfix: a private
// instance (own config, queue and data directories, loopback ports) is the organisation's mail
// server for corp.test. Its public smtpd hands every message to Sealgate as an after-queue
// content filter; Sealgate hands corp.test mail back to Postfix's reinjection smtpd (its relay
// domain's next hop) and all other mail too (its smarthost), so Postfix still does every
// delivery. The system Postfix is not touched.

// postfixInstance is a private Postfix started from its own config_directory.
type postfixInstance struct {
	t       *testing.T
	dir     string // config_directory
	root    string
	mailDir string // virtual_mailbox_base
}

func postfixBinary(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a private Postfix instance needs root (its master changes user)")
	}
	return peertest.Require(t, "postfix")
}

// postfixMasterCF is master.cf with the services the recipe needs and no chroot; the two smtpd
// lines are added per test. It leaves out the system's port 25.
const postfixMasterCF = `pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

// startPostfix runs a private Postfix for corp.test (users alice and bob, Maildirs under a temp
// directory): public smtpd on publicAddr with Sealgate (sealgateAddr) as content filter, the
// reinjection smtpd on reinjectAddr, and partner.test routed to partnerAddr.
func startPostfix(t *testing.T, publicAddr, reinjectAddr, sealgateAddr, partnerAddr string) *postfixInstance {
	t.Helper()
	bin := postfixBinary(t)
	// Postfix's daemons run as the postfix user and deliver as nobody: the tree must be
	// traversable by them, so it is not under t.TempDir (mode 0700).
	root, err := os.MkdirTemp("", "sg-postfix")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	p := &postfixInstance{t: t, dir: filepath.Join(root, "etc"), root: root, mailDir: filepath.Join(root, "mail")}
	for _, d := range []string{p.dir, p.mailDir, filepath.Join(root, "queue")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(p.mailDir, 0o777)
	main := strings.Join([]string{
		"compatibility_level = 3.6",
		"myhostname = postfix.corp.test",
		"mydomain = corp.test",
		"mydestination =",
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"mynetworks = 127.0.0.0/8",
		"queue_directory = " + filepath.Join(root, "queue"),
		"data_directory = " + filepath.Join(root, "data"),
		"maillog_file = " + filepath.Join(root, "maillog"),
		"maillog_file_prefixes = " + root,
		"syslog_name = postfix-sealgate-test",
		"alias_maps =",
		"alias_database =",
		"virtual_mailbox_domains = corp.test",
		"virtual_mailbox_maps = inline:{alice@corp.test=alice/, bob@corp.test=bob/}",
		"virtual_mailbox_base = " + p.mailDir,
		"virtual_uid_maps = static:65534",
		"virtual_gid_maps = static:65534",
		"transport_maps = inline:{partner.test=smtp:[" + hostOf(partnerAddr) + "]:" + portOf(partnerAddr) + "}",
		"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
		"smtp_tls_security_level = may",
		"smtpd_tls_security_level = none",
		"queue_run_delay = 1s",
		"minimal_backoff_time = 1s",
		"maximal_backoff_time = 2s",
		"",
	}, "\n")
	master := postfixMasterCF +
		// The recipe: the public smtpd filters through Sealgate...
		fmt.Sprintf("%s inet n - n - - smtpd\n  -o content_filter=smtp:[%s]:%s\n", publicAddr, hostOf(sealgateAddr), portOf(sealgateAddr)) +
		// ...and Sealgate hands mail back on the reinjection port, which does not filter again.
		fmt.Sprintf("%s inet n - n - - smtpd\n  -o content_filter=\n  -o smtpd_relay_restrictions=permit_mynetworks,reject\n", reinjectAddr)
	if err := os.WriteFile(filepath.Join(p.dir, "main.cf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, "master.cf"), []byte(master), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", p.dir, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(root, "maillog"))
		os.RemoveAll(root)
		t.Fatalf("postfix start: %v\n%s%s", err, out, log)
	}
	t.Cleanup(func() {
		exec.Command(bin, "-c", p.dir, "stop").Run()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(root, "maillog"))
			t.Logf("postfix log:\n%s", log)
		}
		os.RemoveAll(root)
	})
	for _, a := range []string{publicAddr, reinjectAddr} {
		eventually(t, "postfix listening on "+a, func() bool {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	return p
}

// mailbox returns the messages delivered to user's Maildir, with CRLF line ends (Maildir files
// have LF).
func (p *postfixInstance) mailbox(user string) [][]byte {
	var out [][]byte
	files, _ := filepath.Glob(filepath.Join(p.mailDir, user, "new", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			out = append(out, bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
		}
	}
	return out
}

// queueEmpty reports whether Postfix holds no message in any queue.
func (p *postfixInstance) queueEmpty() bool {
	for _, q := range []string{"maildrop", "incoming", "active", "deferred", "hold"} {
		n := 0
		filepath.WalkDir(filepath.Join(p.root, "queue", q), func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		if n > 0 {
			return false
		}
	}
	return true
}

func hostOf(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

func TestE2EPostfixRecipe(t *testing.T) {
	postfixBinary(t)
	publicAddr, reinjectAddr := wiretest.FreeAddr(t), wiretest.FreeAddr(t)
	partner := deliverytest.Start(t, deliverytest.Options{})
	env := gatewaytest.Start(t, func(c *config.Config) {
		c.Relay.Domains = map[string]string{"corp.test": reinjectAddr}
		c.Relay.TrustedNetworks = []string{"127.0.0.1/32"} // Postfix's address
		c.Outbound.Smarthost = reinjectAddr
	})
	admin := env.GW.Keyring().Admin("test")
	ctx := context.Background()
	for _, a := range []string{"alice@corp.test", "bob@corp.test"} {
		if _, err := admin.GeneratePGP(ctx, a, keys.PGPOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setPolicy(t, env, "bob@corp.test", "inbound.encrypt", "pgp")
	setPolicy(t, env, "alice@corp.test", "outbound.sign", "pgp")
	pf := startPostfix(t, publicAddr, reinjectAddr, env.GW.Addr("smtp"), partner.Addr)

	send := func(from string, to []string, msg string) error {
		c, err := smtp.Dial(publicAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.SendMail(from, to, strings.NewReader(msg))
	}
	// Postfix itself refuses unknown users.
	wantSMTPCode(t, send("sender@outside.test", []string{"ghost@corp.test"}, "Subject: x\r\n\r\nx\r\n"), 550, smtp.EnhancedCode{5, 1, 1})

	// Inbound: plaintext for bob, whose policy encrypts at the gateway, and for alice.
	const marker = "Postfix-Recipe-Plaintext-For-Bob"
	in := "From: sender@outside.test\r\nTo: bob@corp.test, alice@corp.test\r\nSubject: via postfix\r\n" +
		"Sealgate-Security: received=pgp; decrypted=yes; signature=pass; stored=plain\r\n\r\n" + marker + "\r\n"
	if err := send("sender@outside.test", []string{"bob@corp.test", "alice@corp.test"}, in); err != nil {
		t.Fatal(err)
	}
	// Outbound: alice sends to the partner through Postfix; Sealgate signs.
	const outMarker = "Signed-By-The-Gateway-For-Dave"
	if err := send("alice@corp.test", []string{"dave@partner.test"}, "From: alice@corp.test\r\nTo: dave@partner.test\r\nSubject: out\r\n\r\n"+outMarker+"\r\n"); err != nil {
		t.Fatal(err)
	}

	eventually(t, "delivery into bob's and alice's Maildirs", func() bool {
		return len(pf.mailbox("bob")) >= 1 && len(pf.mailbox("alice")) >= 1
	})
	if !partner.Wait(20*time.Second, func(p *deliverytest.Peer) bool { return len(p.Received()) >= 1 }) {
		t.Fatal("nothing reached the partner through Sealgate and Postfix")
	}
	eventually(t, "Sealgate's queue empty", queueEmpty(t, env))
	eventually(t, "Postfix's queue empty", pf.queueEmpty) // so no duplicate is still on its way
	bob, alice := pf.mailbox("bob"), pf.mailbox("alice")
	if len(bob) != 1 || len(alice) != 1 || len(partner.Received()) != 1 {
		t.Fatalf("delivered bob %d, alice %d, partner %d times; want each once", len(bob), len(alice), len(partner.Received()))
	}
	for _, m := range [][]byte{bob[0], alice[0]} {
		if n := strings.Count(string(m), "Sealgate-Security:"); n != 1 {
			t.Fatalf("%d Sealgate-Security headers:\n%s", n, m)
		}
	}
	if bytes.Contains(bob[0], []byte(marker)) || fieldValue(bob[0], "Sealgate-Security") != "received=plain; signature=none; stored=pgp" {
		t.Fatalf("bob's copy not encrypted at the gateway:\n%s", bob[0])
	}
	if !bytes.Contains(alice[0], []byte(marker)) || fieldValue(alice[0], "Sealgate-Security") != "received=plain; signature=none; stored=plain" {
		t.Fatalf("alice's copy:\n%s", alice[0])
	}
	gpg := newGPG(t)
	bobSecret, _ := admin.ExportPGP(ctx, "bob@corp.test", true)
	alicePub, _ := admin.ExportPGP(ctx, "alice@corp.test", false)
	gpg.run(bobSecret, "--import")
	gpg.run(alicePub, "--import")
	block := bob[0][bytes.Index(bob[0], []byte("-----BEGIN PGP MESSAGE-----")):]
	if out := gpg.run(block, "--decrypt"); !bytes.Contains(out, []byte(marker)) {
		t.Fatalf("gpg cannot read bob's copy:\n%s", out)
	}

	out := partner.Received()[0]
	if out.From != "alice@corp.test" || bytes.Contains(out.Body, []byte("Sealgate-Security")) {
		t.Fatalf("outbound copy from %q:\n%s", out.From, out.Body)
	}
	// gpg verifies the PGP/MIME signature: the signed part and the detached signature.
	body := string(out.Body)
	boundary := body[strings.Index(body, "boundary=\"")+10:]
	boundary = boundary[:strings.IndexByte(boundary, '"')]
	parts := strings.Split(body, "--"+boundary)
	if len(parts) < 3 {
		t.Fatalf("not PGP/MIME signed:\n%s", body)
	}
	signed := strings.TrimPrefix(parts[1], "\r\n")
	signed = strings.TrimSuffix(signed, "\r\n")
	sig := parts[2][strings.Index(parts[2], "-----BEGIN PGP SIGNATURE-----"):]
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "signed"), []byte(signed), 0o600)
	os.WriteFile(filepath.Join(dir, "sig.asc"), []byte(sig), 0o600)
	if res := gpg.run(nil, "--status-fd", "2", "--verify", filepath.Join(dir, "sig.asc"), filepath.Join(dir, "signed")); !bytes.Contains(res, []byte("GOODSIG")) || !strings.Contains(signed, outMarker) {
		t.Fatalf("gpg does not verify the outbound signature:\n%s", res)
	}
}

// TestDeliveryToPostfixSmtpSink delivers to Postfix's smtp-sink, an SMTP server nobody here
// wrote, and finds the message in its dump file.
func TestDeliveryToPostfixSmtpSink(t *testing.T) {
	sink := findSmtpSink(t)
	dump, err := os.MkdirTemp("", "sealgate-sink-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dump) })
	os.Chmod(dump, 0o777) // smtp-sink drops root privileges to write there
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := []string{"-d", filepath.Join(dump, "msg.")}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	cmd := exec.Command(sink, append(args, addr, "16")...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	eventually(t, "smtp-sink listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	env := gatewaytest.Start(t, func(c *config.Config) {
		c.Outbound.Routes = map[string]string{"sink.test": addr}
	})
	env.AddUser("alice@localhost", alicePW)
	const n = 5
	for i := 0; i < n; i++ {
		env.Submit("alice@localhost", alicePW, []string{"someone@sink.test"}, fmt.Sprintf("From: alice@localhost\r\nSubject: to the sink %d\r\n\r\nhi\r\n", i))
	}
	eventually(t, "empty queue", queueEmpty(t, env))
	eventually(t, "dump files", func() bool {
		files, _ := filepath.Glob(filepath.Join(dump, "msg.*"))
		seen := 0
		for i := 0; i < n; i++ {
			for _, f := range files {
				b, _ := os.ReadFile(f)
				if bytes.Contains(b, []byte(fmt.Sprintf("Subject: to the sink %d", i))) {
					seen++
					break
				}
			}
		}
		return seen == n
	})
	if strings.Contains(metrics(t, env), `sealgate_queue_deliveries_total{result="deferred"} 0`) == false {
		t.Fatalf("deferred deliveries to smtp-sink:\n%s", out.String())
	}
}

func findSmtpSink(t *testing.T) string {
	t.Helper()
	return peertest.Require(t, "smtp-sink") // Debian package postfix
}
