package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/internal/wiretest"
)

// writeCertPair writes a self-signed certificate for cn and its key where a renewal hook would.
func writeCertPair(t *testing.T, certFile, keyFile, cn string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		DNSNames: []string{cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func servedCN(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// SIGHUP to the real program reloads the certificate files and the live settings: it keeps
// serving, an IMAP session opened before keeps working, a new handshake sees the new
// certificate, and the log says what changed and what needs a restart.
func TestSIGHUPReloadsCertificateAndConfig(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCertPair(t, certFile, keyFile, "old.example.test")
	smtpAddr, imapsAddr := wiretest.FreeAddr(t), wiretest.FreeAddr(t)
	conf := func(mode, smtp string) string {
		return listen{smtp: smtp, imaps: imapsAddr}.String() + fmt.Sprintf("[tls]\ncert = %q\nkey = %q\n[mtasts]\nmode = %q\n", certFile, keyFile, mode)
	}
	dataDir := newDataDir(t, conf("testing", smtpAddr))
	cfgFile := filepath.Join(dataDir, "sealgate.toml")
	runCLI(t, bin, dataDir, "pw-alice-1\n", "user", "add", "alice@localhost", "--password-stdin")
	logs := &gatewaytest.LogBuffer{}
	cmd := exec.Command(bin, "--data", dataDir, "serve")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", imapsAddr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i > 1000 {
			t.Fatalf("server did not start: %v\n%s", err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cn := servedCN(t, imapsAddr); cn != "old.example.test" {
		t.Fatalf("served %q", cn)
	}

	// An IMAP session, logged in before the reload.
	imap := wiretest.DialIMAP(t, imapsAddr, &tls.Config{InsecureSkipVerify: true})
	if got := imap.Command("a1", "LOGIN alice@localhost pw-alice-1"); !strings.HasPrefix(got, "a1 OK") {
		t.Fatal(got)
	}

	writeCertPair(t, certFile, keyFile, "new.example.test")
	// One live change and one that needs a restart.
	if err := os.WriteFile(cfgFile, []byte(conf("enforce", wiretest.FreeAddr(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for i := 0; !strings.Contains(logs.String(), "configuration reloaded"); i++ {
		select {
		case err := <-exited:
			t.Fatalf("the server exited on SIGHUP: %v\n%s", err, logs)
		default:
		}
		if i > 500 {
			t.Fatalf("no reload logged:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cn := servedCN(t, imapsAddr); cn != "new.example.test" {
		t.Errorf("after SIGHUP a new handshake sees %q", cn)
	}
	if got := imap.Command("a2", "SELECT INBOX"); !strings.HasPrefix(got, "a2 OK") {
		t.Errorf("IMAP session opened before the reload: %s", got)
	}
	out := logs.String()
	for _, want := range []string{"certificate_changed=true", "applied=[mtasts.mode]", "keys=[listen.smtp]"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	select {
	case err := <-exited:
		t.Fatalf("the server exited: %v", err)
	default:
	}
}
