package changecount

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSharedBetweenMappings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.Load() != 0 || b.Load() != 0 {
		t.Fatalf("new counter = %d, %d", a.Load(), b.Load())
	}
	a.Add()
	if got := b.Load(); got != 1 {
		t.Fatalf("after an increment through one mapping the other reads %d", got)
	}
	var wg sync.WaitGroup
	for _, c := range []*Counter{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10000 {
				c.Add()
			}
		}()
	}
	wg.Wait()
	if got := a.Load(); got != 20001 {
		t.Fatalf("concurrent increments: %d, want 20001 (an increment was lost)", got)
	}
	// Reopening keeps the value: a process that starts later sees the same number.
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Load(); got != 20001 {
		t.Fatalf("reopened: %d", got)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", st.Mode(), err)
	}
}

// TestSeenByAnotherProcess increments the counter from a child process (this test binary,
// re-run) and reads it in this one.
func TestSeenByAnotherProcess(t *testing.T) {
	if path := os.Getenv("CHANGECOUNT_CHILD"); path != "" {
		c, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			c.Add()
		}
		return
	}
	path := filepath.Join(t.TempDir(), "n")
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	before := c.Load()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSeenByAnotherProcess$")
	cmd.Env = append(os.Environ(), "CHANGECOUNT_CHILD="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if got := c.Load(); got != before+5 {
		t.Fatalf("after 5 increments in another process: %d, want %d", got, before+5)
	}
}

func TestShortFileGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n")
	if err := os.WriteFile(path, []byte{3}, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Load(); got != 3 {
		t.Fatalf("existing byte read as %d", got)
	}
	if st, _ := os.Stat(path); st.Size() != size {
		t.Fatalf("size %d, want %d", st.Size(), size)
	}
}

func TestOpenFails(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "n")); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

// TestUnmappedWhenGarbage: dropped counters do not accumulate mappings.
func TestUnmappedWhenGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n")
	count := func() int {
		data, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Skip("no /proc/self/maps")
		}
		n := 0
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasSuffix(line, " "+path) {
				n++
			}
		}
		return n
	}
	for range 100 {
		if _, err := Open(path); err != nil {
			t.Fatal(err)
		}
	}
	// Cleanups run on their own goroutine after the collection that found a counter dead.
	for i := 0; count() > 0 && i < 100; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(); n > 0 {
		t.Fatalf("%s still mapped %d times after the counters became garbage", path, n)
	}
}
