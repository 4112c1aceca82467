package mailstore_test

import (
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/storetest"
)

// TestConformance runs the shared mail store suite against the embedded store.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts mailstore.Options) storetest.Store {
		s, err := mailstore.Open(t.TempDir(), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
