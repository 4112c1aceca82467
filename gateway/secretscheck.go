package gateway

import (
	"context"
	"errors"
	"io/fs"
	"strings"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailauth"
	"github.com/sealgate/sealgate/keys"
)

// CheckSecrets reports the sealed private keys of the shared files that do not open with mk:
// the self-signed TLS key and the active DKIM key of each local domain. A data directory
// restored with another master key than its own fails here, before the server would.
func CheckSecrets(ctx context.Context, cfg *config.Config, files keys.Files, mk *keys.MasterKey) []string {
	var probs []string
	sealed, err := files.ReadFile(ctx, tlsKeyFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		probs = append(probs, "master key: reading the sealed TLS key: "+err.Error())
	default:
		if _, err := mk.Open(tlsKeyPurpose, sealed); err != nil {
			probs = append(probs, "master key: the sealed TLS key does not open with this master key")
		}
	}
	dk := &mailauth.DKIMKeys{Files: files, MasterKey: mk}
	for _, d := range cfg.Domains {
		_, err := dk.Signature(strings.NewReader("From: check@"+d+"\r\n\r\n"), d)
		if err != nil && !errors.Is(err, mailauth.ErrNoDKIMKey) {
			probs = append(probs, "master key: the DKIM key of "+d+" does not open: "+err.Error())
		}
	}
	return probs
}
