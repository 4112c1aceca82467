package keys_test

import (
	"testing"

	"github.com/sealgate/sealgate/keys"
	"github.com/sealgate/sealgate/keys/keystest"
)

func TestSQLiteBackendConformance(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keystest.Opener {
		dir := t.TempDir()
		return func(t *testing.T) keys.Backend {
			b, err := keys.OpenSQLite(dir)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	})
}

func TestDirFilesConformance(t *testing.T) {
	keystest.RunFiles(t, func(t *testing.T) keystest.FilesOpener {
		dir := t.TempDir()
		return func(t *testing.T) keys.Files { return keys.DirFiles{Dir: dir} }
	})
}
