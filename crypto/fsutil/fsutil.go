// Package fsutil holds the file-system steps that make writes durable, shared by the keyring
// (keys) and the mail store (gateway/mailstore), which may not import each other.
package fsutil

import "os"

// SyncPath fsyncs the file or directory at path. After a rename or a new file, syncing the
// directory that holds it is what makes the new name survive a crash.
func SyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
