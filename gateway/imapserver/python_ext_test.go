package imapserver_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/config"
)

// Each advertised extension driven by Python's imaplib (testdata/imaplib_extensions.py)
// against one gateway over loopback, every extension as a fresh account of its own: the
// answers the RFCs shape, checked line by line where imaplib would hide them. The gateway's
// message size limit is 64 KiB so that APPENDLIMIT's edge is cheap to reach.
func TestPythonImaplibExtensions(t *testing.T) {
	py := requirePeer(t, "python3")
	const limit = 64 << 10
	env := start(t, func(c *config.Config) { c.Limits.MaxMessageSize = limit })
	script, err := filepath.Abs(filepath.Join("testdata", "imaplib_extensions.py"))
	if err != nil {
		t.Fatal(err)
	}
	cafile := filepath.Join(env.Dir, "tls", "cert.pem")
	for _, ext := range []string{
		"literal-plus", "idle", "uidplus", "move", "esearch", "list-extended", "namespace",
		"unselect", "enable", "appendlimit", "binary", "status-size", "children", "overquota",
	} {
		t.Run(ext, func(t *testing.T) {
			user, pw := ext+"@localhost", ext+"-secret-pw"
			env.AddUser(user, pw)
			if ext == "overquota" {
				a, err := address.Parse(user)
				if err != nil {
					t.Fatal(err)
				}
				if err := env.Embedded().SetQuota(context.Background(), a, 1000); err != nil {
					t.Fatal(err)
				}
			}
			out, err := exec.Command(py, script, ext, env.GW.Addr("imaps"), cafile, user, pw).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Fatalf("imaplib, %s: %v\n%s", ext, err, out)
			}
		})
	}
}
