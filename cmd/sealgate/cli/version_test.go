package cli

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	a := run(t, "", nil, "version")
	b := run(t, "", nil, "--version")
	if a.code != 0 || b.code != 0 {
		t.Fatalf("version: %+v --version: %+v", a, b)
	}
	if a.stdout != b.stdout {
		t.Fatalf("version %q and --version %q differ", a.stdout, b.stdout)
	}
	if !strings.HasPrefix(a.stdout, "sealgate ") || !strings.Contains(a.stdout, runtime.Version()) || strings.Count(a.stdout, "\n") != 1 {
		t.Fatalf("version line %q: want sealgate, the module version and %s on one line", a.stdout, runtime.Version())
	}
}

func TestConfigExamplePromisesNoAdminAPI(t *testing.T) {
	r := run(t, "", nil, "config", "example")
	if r.code != 0 || strings.Contains(strings.ToLower(r.stdout), "admin api") {
		t.Fatalf("config example mentions an admin API that does not exist (exit %d)", r.code)
	}
}
