package imapserver_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requirePeer skips when a real peer program is missing, unless SEALGATE_REQUIRE_PEERS is set
// (CI sets it, so a missing peer fails there instead of passing quietly).
func requirePeer(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SEALGATE_REQUIRE_PEERS") != "" {
			t.Fatalf("%s is not installed and SEALGATE_REQUIRE_PEERS is set", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return path
}

// pythonIMAP drives the server with Python's imaplib, a client nobody here wrote.
const pythonIMAP = `
import imaplib, ssl, sys, time
imap, imaps, cafile, pw = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False

def hp(a):
    h, p = a.rsplit(":", 1)
    return h, int(p)

def ok(r):
    typ, data = r
    assert typ == "OK", (typ, data)
    return data

# STARTTLS listener: LOGINDISABLED until TLS.
m = imaplib.IMAP4(*hp(imap))
assert "LOGINDISABLED" in m.capabilities, m.capabilities
try:
    m.login("alice@localhost", pw)
    sys.exit("login accepted before TLS")
except imaplib.IMAP4.error:
    pass
m.starttls(ssl_context=ctx)
ok(m.login("alice@localhost", pw))
m.logout()

m = imaplib.IMAP4_SSL(*hp(imaps), ssl_context=ctx)
ok(m.login("alice@localhost", pw))
ok(m.create("Work/Reports"))
names = [l.decode() for l in ok(m.list('""', "*"))]
assert any('"Work/Reports"' in n or " Work/Reports" in n for n in names), names
assert any("\\Sent" in n for n in names), names
msg = b"From: py@example.org\r\nTo: alice@localhost\r\nSubject: from imaplib\r\n\r\nthe quick brown fox\r\n"
typ, data = m.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(time.time()), msg)
assert typ == "OK" and b"APPENDUID" in data[0], data
typ, data = m.select("INBOX")
assert typ == "OK" and int(data[0]) >= 1, data
n = int(data[0])
data = ok(m.search(None, "BODY", "brown"))
assert data[0].split() == [str(n).encode()], data
data = ok(m.search(None, "SUBJECT", '"from imaplib"', "FLAGGED"))
assert data[0].split() == [str(n).encode()], data
data = ok(m.fetch(str(n), "(ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[]<4.5>)"))
blob = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data)
assert b"from imaplib" in blob and b": py@" in blob, blob
ok(m.store(str(n), "+FLAGS", "(\\Deleted)"))
ok(m.copy(str(n), "Work/Reports"))
ok(m.expunge())
ok(m.rename("Work", "Done"))
typ, data = m.status("Done/Reports", "(MESSAGES)")
assert typ == "OK" and b"MESSAGES 1" in data[0], data
m.logout()
print("ok")
`

func TestPythonImaplib(t *testing.T) {
	py := requirePeer(t, "python3")
	env := start(t)
	deliver(t, env, "alice@localhost", simpleMsg("first", "hello"))
	script := filepath.Join(t.TempDir(), "client.py")
	if err := os.WriteFile(script, []byte(pythonIMAP), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, script, env.GW.Addr("imap"), env.GW.Addr("imaps"),
		filepath.Join(env.Dir, "tls", "cert.pem"), alicePW).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
}
