package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/peertest"
)

// TestSystemdUnitsVerify: the units in docs/dist pass `systemd-analyze verify` without a
// warning (an unknown or misspelt option is only a warning there), with ExecStart pointed at
// an executable that exists.
func TestSystemdUnitsVerify(t *testing.T) {
	peertest.Require(t, "systemd-analyze") // apt-get install systemd
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join("..", "..", "..", "docs", "dist")
	dir := t.TempDir()
	var units []string
	for _, name := range []string{"sealgate.service", "sealgate-backup.service", "sealgate-backup.timer"} {
		b, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "/usr/local/bin/sealgate", self)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, p)
	}
	var out bytes.Buffer
	cmd := exec.Command("systemd-analyze", append([]string{"verify"}, units...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	// Outside a systemd system, verify may note that it cannot reach the manager; anything
	// about our files is a failure.
	var problems []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, dir) || strings.Contains(l, ".service") || strings.Contains(l, ".timer") {
			problems = append(problems, l)
		}
	}
	if err != nil || len(problems) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out.String())
	}
	unit, _ := os.ReadFile(filepath.Join(dist, "sealgate.service"))
	for _, want := range []string{"AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "StateDirectory=sealgate", "User=sealgate"} {
		if !strings.Contains(string(unit), "\n"+want+"\n") {
			t.Errorf("sealgate.service lacks %s", want)
		}
	}
}
