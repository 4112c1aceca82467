package gateway_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/certtest"
	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
	"github.com/sealgate/sealgate/gateway/mailauth/dnstest"
)

// pebble is a running Pebble ACME server (the ACME test server from Let's Encrypt) that
// validates challenges for real: it resolves names with a dnstest server answering 127.0.0.1
// and connects to httpPort and tlsPort there.
type pebble struct {
	dir, caFile       string
	directory, mgmt   string
	httpPort, tlsPort int
	client            *http.Client // trusts Pebble's own HTTPS
}

func startPebble(t *testing.T, names ...string) *pebble {
	t.Helper()
	bin := peertest.Require(t, "pebble")
	zone := dnstest.Zone{}
	for _, n := range names {
		zone[n+". A"] = []string{"127.0.0.1"}
	}
	dns := dnstest.Start(t, zone)
	dir := t.TempDir()
	p := &pebble{dir: dir, caFile: filepath.Join(dir, "pebble-ca.pem"), httpPort: wiretest.FreePort(t), tlsPort: wiretest.FreePort(t)}
	certPEM, keyPEM := certtest.New(t, certtest.Options{Names: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, CA: true}).PEM(t)
	os.WriteFile(p.caFile, certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
	listen, mgmt := wiretest.FreeAddr(t), wiretest.FreeAddr(t)
	conf, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt,
		"certificate": p.caFile, "privateKey": filepath.Join(dir, "key.pem"),
		"httpPort": p.httpPort, "tlsPort": p.tlsPort,
	}})
	os.WriteFile(filepath.Join(dir, "pebble.json"), conf, 0o600)
	cmd := exec.Command(bin, "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", dns.Addr, "-strict=false")
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble output:\n%s", out.String())
		}
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	p.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	p.directory, p.mgmt = "https://"+listen+"/dir", "https://"+mgmt
	for i := 0; ; i++ {
		resp, err := p.client.Get(p.directory)
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("pebble does not answer: %v\n%s", err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// rootPEM returns Pebble's issuing root (made anew at each start).
func (p *pebble) rootPEM(t *testing.T) []byte {
	t.Helper()
	resp, err := p.client.Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return data
}

// roots returns Pebble's issuing root as a pool.
func (p *pebble) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	data := p.rootPEM(t)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("no root from pebble: %s", data)
	}
	return pool
}

// peerCert makes a TLS connection the way each protocol does (implicit, or STARTTLS after the
// protocol's own words) and returns the leaf the gateway presented, verified against roots.
func peerCert(t *testing.T, proto, addr string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if proto == "smtp" {
		r := bufio.NewReader(conn)
		expect := func(prefix string) {
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("smtp: %v", err)
				}
				if !strings.HasPrefix(line, prefix) {
					t.Fatalf("smtp: %q", line)
				}
				if len(line) < 4 || line[3] == ' ' {
					return
				}
			}
		}
		expect("220")
		io.WriteString(conn, "EHLO client.test\r\n")
		expect("250")
		io.WriteString(conn, "STARTTLS\r\n")
		expect("220")
	}
	tc := tls.Client(conn, &tls.Config{ServerName: "mx.example.test", RootCAs: roots})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("%s on %s: %v", proto, addr, err)
	}
	return tc.ConnectionState().PeerCertificates[0]
}

// waitIssued waits until the gateway serves a certificate that verifies against Pebble's root.
func waitIssued(t *testing.T, addr string, p *pebble, not *big.Int) *x509.Certificate {
	t.Helper()
	roots := p.roots(t)
	for i := 0; ; i++ {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "mx.example.test", RootCAs: roots})
		if err == nil {
			leaf := conn.ConnectionState().PeerCertificates[0]
			conn.Close()
			if not == nil || leaf.SerialNumber.Cmp(not) != 0 {
				return leaf
			}
		}
		if i > 600 {
			t.Fatalf("no certificate from pebble on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Pebble issues the certificate over TLS-ALPN-01 on the https listener; SMTP STARTTLS, IMAPS,
// POP3S and HTTPS all present it; when two thirds of its lifetime have passed it is renewed,
// and an IMAP session opened before keeps working while new handshakes see the new one.
func TestE2EACMEPebbleTLSALPN(t *testing.T) {
	names := []string{"mx.example.test", "mta-sts.example.test"}
	p := startPebble(t, names...)
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	env := gatewaytest.StartWith(t, gateway.Options{CertNow: clock, CertPollInterval: 100 * time.Millisecond}, func(c *config.Config) {
		c.Listen.HTTPS = fmt.Sprintf("127.0.0.1:%d", p.tlsPort)
		c.Listen.HTTP = "" // TLS-ALPN-01 only
		c.TLS.ACMEDirectory, c.TLS.ACMECAFile, c.TLS.ACMEEmail = p.directory, p.caFile, "postmaster@example.test"
		c.TLS.ACMENames = names
	})
	env.AddUser("alice@example.test", "secret-pw-1")
	first := waitIssued(t, env.GW.Addr("imaps"), p, nil)
	roots := p.roots(t)
	for _, l := range []struct{ proto, name string }{{"smtp", "smtp"}, {"imaps", "imaps"}, {"pop3s", "pop3s"}, {"https", "https"}} {
		if got := peerCert(t, l.proto, env.GW.Addr(l.name), roots); got.SerialNumber.Cmp(first.SerialNumber) != 0 {
			t.Errorf("%s presents serial %v, want the ACME one %v", l.name, got.SerialNumber, first.SerialNumber)
		}
	}
	if err := first.VerifyHostname("mta-sts.example.test"); err != nil {
		t.Error(err)
	}
	// openssl, a TLS client nobody here wrote, verifies the chain and the name too.
	if _, err := exec.LookPath("openssl"); err == nil {
		rootFile := filepath.Join(t.TempDir(), "root.pem")
		os.WriteFile(rootFile, p.rootPEM(t), 0o600)
		for _, l := range []struct{ name, starttls string }{{"smtp", "smtp"}, {"imaps", ""}, {"pop3s", ""}, {"https", ""}} {
			args := []string{"s_client", "-connect", env.GW.Addr(l.name), "-servername", "mx.example.test",
				"-CAfile", rootFile, "-verify_return_error", "-verify_hostname", "mx.example.test"}
			if l.starttls != "" {
				args = append(args, "-starttls", l.starttls)
			}
			cmd := exec.Command("openssl", args...)
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verify return code: 0 (ok)") {
				t.Errorf("openssl s_client on %s: %v\n%s", l.name, err, out)
			}
		}
	}

	// An IMAP session, logged in before the renewal.
	imap := wiretest.DialIMAP(t, env.GW.Addr("imaps"), &tls.Config{ServerName: "mx.example.test", RootCAs: roots})
	if got := imap.Command("a1", "LOGIN alice@example.test secret-pw-1"); !strings.HasPrefix(got, "a1 OK") {
		t.Fatal(got)
	}

	skew.Store(int64(time.Until(first.NotAfter)) * 3 / 4) // past two thirds of its life
	second := waitIssued(t, env.GW.Addr("imaps"), p, first.SerialNumber)
	skew.Store(0)
	if !second.NotBefore.After(first.NotBefore.Add(-time.Second)) {
		t.Errorf("renewed certificate is not newer: %v vs %v", second.NotBefore, first.NotBefore)
	}
	if got := imap.Command("a2", "SELECT INBOX"); !strings.HasPrefix(got, "a2 OK") {
		t.Fatalf("IMAP session after renewal: %s", got)
	}
	if !strings.Contains(env.Log.String(), "ACME certificate installed") {
		t.Error("no log line for the installed certificate")
	}
	// The account key and the certificate's key are sealed on disk.
	stored, _ := filepath.Glob(filepath.Join(env.Dir, "acme", "*", "*"))
	if len(stored) != 2 {
		t.Fatalf("ACME files %v, want the account and the certificate", stored)
	}
	for _, f := range stored {
		data, _ := os.ReadFile(f)
		if _, err := x509.ParsePKCS8PrivateKey(data); err == nil || strings.Contains(string(data), "PRIVATE KEY") {
			t.Errorf("%s holds a key in plaintext", f)
		}
	}
}

// Without an https listener the certificate is obtained over HTTP-01 on the http listener,
// which answers the challenge even though it would redirect everything else to https.
func TestE2EACMEPebbleHTTP01(t *testing.T) {
	p := startPebble(t, "mx.example.test")
	env := gatewaytest.StartWith(t, gateway.Options{CertPollInterval: 100 * time.Millisecond}, func(c *config.Config) {
		c.Listen.HTTP = fmt.Sprintf("127.0.0.1:%d", p.httpPort)
		c.TLS.ACMEDirectory, c.TLS.ACMECAFile = p.directory, p.caFile
		c.TLS.ACMENames = []string{"mx.example.test"}
	})
	leaf := waitIssued(t, env.GW.Addr("submissions"), p, nil)
	if got := peerCert(t, "smtp", env.GW.Addr("submission"), p.roots(t)); got.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("submission presents serial %v, want %v", got.SerialNumber, leaf.SerialNumber)
	}
	// A gateway started on the same data directory serves the stored certificate from its
	// first handshake, without a new order.
	again := gatewaytest.StartIn(t, env.Dir, func(c *config.Config) {
		c.Listen.HTTPS = "127.0.0.1:0"
		c.TLS.ACMEDirectory, c.TLS.ACMECAFile = p.directory, p.caFile
		c.TLS.ACMENames = []string{"mx.example.test"}
	})
	if got := peerCert(t, "imaps", again.GW.Addr("imaps"), p.roots(t)); got.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after a restart: serial %v, want the stored %v", got.SerialNumber, leaf.SerialNumber)
	}
}

// A name whose validation fails (no DNS record yet) is left out of the certificate instead of
// costing all of it.
func TestE2EACMEPebbleLeavesOutFailingName(t *testing.T) {
	p := startPebble(t, "mx.example.test") // openpgpkey.example.test does not resolve
	env := gatewaytest.StartWith(t, gateway.Options{CertPollInterval: 100 * time.Millisecond}, func(c *config.Config) {
		c.Listen.HTTPS = fmt.Sprintf("127.0.0.1:%d", p.tlsPort)
		c.TLS.ACMEDirectory, c.TLS.ACMECAFile = p.directory, p.caFile
		c.TLS.ACMENames = []string{"mx.example.test", "openpgpkey.example.test"}
	})
	leaf := waitIssued(t, env.GW.Addr("imaps"), p, nil)
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "mx.example.test" {
		t.Fatalf("certificate for %v", leaf.DNSNames)
	}
	if !strings.Contains(env.Log.String(), "names left out of the ACME certificate") {
		t.Error("the left-out name is not logged")
	}
}
