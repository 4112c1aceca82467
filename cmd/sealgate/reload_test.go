package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/certtest"
	"github.com/sealgate/sealgate/gateway/gatewaytest"
	"github.com/sealgate/sealgate/gateway/gatewaytest/wiretest"
)

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
	certtest.WriteFiles(t, certFile, keyFile, certtest.Options{Names: []string{"old.example.test"}})
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

	certtest.WriteFiles(t, certFile, keyFile, certtest.Options{Names: []string{"new.example.test"}})
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
