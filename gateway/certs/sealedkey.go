package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io/fs"

	"github.com/sealgate/sealgate/keys"
)

// SealedKey returns the private key kept sealed (for purpose) in file of the shared files, as
// PKCS#8 DER, making an ECDSA P-256 key on first use. Nodes starting at once agree on one:
// the first key stored wins, and every node returns that one.
func SealedKey(ctx context.Context, files keys.Files, mk *keys.MasterKey, file, purpose string) ([]byte, error) {
	sealed, err := files.ReadFile(ctx, file)
	if errors.Is(err, fs.ErrNotExist) {
		sealed, err = newSealedKey(ctx, files, mk, file, purpose)
	}
	if err != nil {
		return nil, err
	}
	return mk.Open(purpose, sealed)
}

// newSealedKey makes a key and stores it sealed, unless another node stored one first; it
// returns the stored one.
func newSealedKey(ctx context.Context, files keys.Files, mk *keys.MasterKey, file, purpose string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var der, sealed []byte
	if err == nil {
		der, err = x509.MarshalPKCS8PrivateKey(key)
	}
	if err == nil {
		sealed, err = mk.Seal(purpose, der)
	}
	if err != nil {
		return nil, err
	}
	return keys.CreateOrReadFile(ctx, files, file, sealed)
}
