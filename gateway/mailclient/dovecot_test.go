package mailclient_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/certtest"
	"github.com/sealgate/sealgate/crypto/peertest"
	"github.com/sealgate/sealgate/gateway/mailclient"
)

// startDovecot runs Dovecot's IMAP server on loopback for one user, with STARTTLS and a
// self-signed certificate; extra is added to its configuration. It returns host:port.
func startDovecot(t *testing.T, extra string) string {
	t.Helper()
	peertest.RequireFile(t, "dovecot", "/usr/sbin/dovecot")
	// Dovecot's unprivileged processes must reach the directory: not t.TempDir (0700).
	dir, err := os.MkdirTemp("", "sealgate-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	writeCert(t, dir)
	os.WriteFile(filepath.Join(dir, "passwd"), []byte("alice@example.test:{PLAIN}pw-alice\n"), 0o644)
	home := filepath.Join(dir, "home", "alice@example.test")
	os.MkdirAll(home, 0o700)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	// As root, Dovecot's own users run the login and mail processes; otherwise everything
	// runs as the current user, without chroot.
	mailUser, internal, login, chroot := "dovecot", "dovecot", "dovenull", ""
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		mailUser, internal, login, chroot = u.Username, u.Username, u.Username, "chroot ="
	} else if err := exec.Command("chown", "-R", "dovecot:dovecot", filepath.Join(dir, "home")).Run(); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[2]s gid=%[2]s home=%[1]s/home/%%u
}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:~/Maildir
default_internal_user = %[3]s
default_internal_group = %[3]s
default_login_user = %[4]s
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[5]d
  }
  inet_listener imaps {
    port = 0
  }
  %[6]s
}
%[7]s
`, dir, mailUser, internal, login, port, chroot, extra)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/dovecot", "-F", "-c", confPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // the master stops its processes
		cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot.log:\n%s", log)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("dovecot does not listen on %s: %v", addr, err)
		}
	}
}

func writeCert(t *testing.T, dir string) {
	t.Helper()
	certtest.WriteFiles(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), certtest.Options{Names: []string{"localhost"}})
}

// TestAppendSentOnDovecot keeps a sent copy on a server that is not Sealgate: in the folder
// marked \Sent when there is one (whatever its name), else in a "Sent" folder it makes.
func TestAppendSentOnDovecot(t *testing.T) {
	msg := []byte("From: alice@example.test\r\nTo: bob@example.test\r\nSubject: kept\r\n\r\nhello\r\n")
	for _, c := range []struct{ name, conf, want string }{
		{"no special use", "", "Sent"},
		{"special use", "namespace inbox {\n  inbox = yes\n  mailbox \"Sent Items\" {\n    special_use = \\Sent\n    auto = create\n  }\n}\n", "Sent Items"},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := startDovecot(t, c.conf)
			cfg := mailclient.Config{IMAP: addr, User: "alice@example.test", Password: "pw-alice", Insecure: true}
			for i := range 2 { // the second finds the folder the first made
				mb, err := mailclient.Open(cfg)
				if err != nil {
					t.Fatal(err)
				}
				folder, err := mb.AppendSent(msg)
				if err != nil || folder != c.want {
					t.Fatalf("AppendSent %d: %q, %v; want %q", i, folder, err, c.want)
				}
				list, err := mb.List(folder)
				mb.Close()
				if err != nil || len(list) != i+1 || list[i].Subject != "kept" || !list[i].Seen {
					t.Fatalf("%s after %d copies: %+v %v", folder, i+1, list, err)
				}
			}
			mb, err := mailclient.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer mb.Close()
			folders, err := mb.Folders()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range folders {
				names = append(names, f.Name)
			}
			if strings.Join(names, ",") != "INBOX,"+c.want {
				t.Fatalf("folders: %v", names)
			}
		})
	}
}
