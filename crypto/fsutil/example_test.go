package fsutil_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sealgate/sealgate/crypto/fsutil"
)

// A file replaced durably: written and synced under a temporary name, renamed over the old
// one, and its directory synced so that the new name survives a crash. The temporary name is
// gone afterwards.
func ExampleSyncPath() {
	dir, err := os.MkdirTemp("", "fsutil")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	tmp, path := filepath.Join(dir, "state.tmp"), filepath.Join(dir, "state")
	fmt.Println(os.WriteFile(tmp, []byte("v2"), 0o600))
	fmt.Println(fsutil.SyncPath(tmp), os.Rename(tmp, path), fsutil.SyncPath(dir))
	fmt.Println(os.IsNotExist(fsutil.SyncPath(tmp)))
	// Output:
	// <nil>
	// <nil> <nil> <nil>
	// true
}
