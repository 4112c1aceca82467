package keystest

import (
	"context"
	"errors"
	"io/fs"
	"reflect"
	"sync"
	"testing"

	"github.com/sealgate/sealgate/keys"
)

// FilesOpener opens a keys.Files on one storage; called again, it opens another on the same
// storage, as a second process or node would.
type FilesOpener func(t *testing.T) keys.Files

// RunFiles is the conformance suite of keys.Files. fresh returns an opener for new, empty
// storage each time it is called.
func RunFiles(t *testing.T, fresh func(t *testing.T) FilesOpener) {
	ctx := context.Background()
	t.Run("ReadWriteList", func(t *testing.T) {
		f := fresh(t)(t)
		if _, err := f.ReadFile(ctx, "dkim/example.test/ACTIVE"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
		}
		if names, err := f.List(ctx, "dkim/example.test"); err != nil || len(names) != 0 {
			t.Fatalf("List of an empty store: %v %v", names, err)
		}
		for name, data := range map[string]string{
			"dkim/example.test/ACTIVE": "s1\n", "dkim/example.test/s1.key": "\x00sealed\xff",
			"dkim/example.test/s1.txt": "v=DKIM1", "dkim/other.test/s2.txt": "x", "srs.secret": "",
		} {
			if err := f.WriteFile(ctx, name, []byte(data)); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.WriteFile(ctx, "dkim/example.test/ACTIVE", []byte("s2\n")); err != nil {
			t.Fatal(err)
		}
		got, err := f.ReadFile(ctx, "dkim/example.test/ACTIVE")
		if err != nil || string(got) != "s2\n" {
			t.Fatalf("ReadFile after a rewrite: %q %v", got, err)
		}
		if got, err := f.ReadFile(ctx, "dkim/example.test/s1.key"); err != nil || string(got) != "\x00sealed\xff" {
			t.Fatalf("binary contents: %q %v", got, err)
		}
		if got, err := f.ReadFile(ctx, "srs.secret"); err != nil || len(got) != 0 {
			t.Fatalf("empty file: %q %v", got, err)
		}
		names, err := f.List(ctx, "dkim/example.test")
		want := []string{"dkim/example.test/ACTIVE", "dkim/example.test/s1.key", "dkim/example.test/s1.txt"}
		if err != nil || !reflect.DeepEqual(names, want) {
			t.Fatalf("List: %q %v, want %q", names, err, want)
		}
		if names, err := f.List(ctx, "dkim"); err != nil || len(names) != 0 {
			t.Fatalf("List lists only the files directly in a directory: %q %v", names, err)
		}
	})
	t.Run("BadNames", func(t *testing.T) {
		f := fresh(t)(t)
		for _, name := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", `a\b`, "."} {
			if err := f.WriteFile(ctx, name, []byte("x")); err == nil {
				t.Errorf("WriteFile(%q) accepted", name)
			}
			if _, err := f.ReadFile(ctx, name); err == nil || errors.Is(err, fs.ErrNotExist) {
				t.Errorf("ReadFile(%q): %v, want a refusal", name, err)
			}
		}
	})
	t.Run("CreateRace", func(t *testing.T) {
		open := fresh(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = open(t).CreateFile(ctx, "tls/key.sealed", []byte{byte('a' + i)})
			}()
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("CreateFile succeeded twice (%d and %d)", won, i)
			case err == nil:
				won = i
			case !errors.Is(err, fs.ErrExist):
				t.Fatalf("CreateFile %d: %v, want fs.ErrExist", i, err)
			}
		}
		if won < 0 {
			t.Fatal("no CreateFile succeeded")
		}
		got, err := keys.CreateOrReadFile(ctx, open(t), "tls/key.sealed", []byte("late"))
		if err != nil || string(got) != string(rune('a'+won)) {
			t.Fatalf("CreateOrReadFile after the race: %q %v, want the winner's %q", got, err, string(rune('a'+won)))
		}
	})
}
