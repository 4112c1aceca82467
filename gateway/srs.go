package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/keys"
)

const (
	// srsSealedFile is the SRS secret in the shared database, sealed with the master key.
	srsSealedFile = "srs.sealed"
	srsPurpose    = "srs-secret"
)

// loadSRS returns the SRS signer. The embedded backend keeps its secret in DIR/srs.secret;
// nodes sharing a database keep one secret in it, sealed, so a bounce to an address that one
// node signed is accepted by every other. Of nodes starting at once, the first to store a
// secret wins.
func (g *Gateway) loadSRS(ctx context.Context) (*addressing.SRS, error) {
	if !g.storage.Shared() {
		return addressing.LoadOrCreateSRS(filepath.Join(g.dataDir, "srs.secret"))
	}
	sealed, err := g.files.ReadFile(ctx, srsSealedFile)
	if errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, 32)
		rand.Read(secret)
		if sealed, err = g.master.Seal(srsPurpose, secret); err == nil {
			sealed, err = keys.CreateOrReadFile(ctx, g.files, srsSealedFile, sealed)
		}
	}
	if err != nil {
		return nil, err
	}
	secret, err := g.master.Open(srsPurpose, sealed)
	if err != nil {
		return nil, err
	}
	return addressing.NewSRS(secret)
}
