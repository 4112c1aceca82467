package mailstore_test

import (
	"testing"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mailstore/storetest"
)

// openIn opens the embedded store in dir; t's cleanup closes it.
func openIn(t *testing.T, dir string, opts mailstore.Options) storetest.Store {
	s, err := mailstore.Open(dir, opts)
	return storetest.Opened(t, s, err)
}

// TestConformance runs the shared mail store suite against the embedded store.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts mailstore.Options) storetest.Store {
		return openIn(t, t.TempDir(), opts)
	})
}

// TestConcurrentDeliveriesAndSecondProcess: a second Store on the same directory, as the CLI
// opens it, delivers and adds accounts while the first delivers.
func TestConcurrentDeliveriesAndSecondProcess(t *testing.T) {
	dir := t.TempDir()
	storetest.ConcurrentDeliveries(t, openIn(t, dir, mailstore.Options{}), openIn(t, dir, mailstore.Options{}))
}
