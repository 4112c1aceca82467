package pipeline

import (
	"context"
	"crypto/x509"

	"github.com/sealgate/sealgate/crypto/pgpmime"
	"github.com/sealgate/sealgate/keys"
)

// keyMemo is the keyring as one message sees it: the security stage looks a recipient's
// encryption keys up to decide and again to encrypt, and each keyring lookup reads the store's
// change counter and copies the parsed keys. The memo answers the second lookup of the same
// message from the first. It lives only as long as one message's processing, which runs on
// one goroutine, so it needs no lock and a key changed meanwhile is seen by the next message.
type keyMemo struct {
	keys.Lookup
	enc   map[string]memoRing
	certs map[string]memoCerts
}

type memoRing struct {
	ring pgpmime.KeyRing
	err  error
}

type memoCerts struct {
	certs []*x509.Certificate
	err   error
}

// newKeyMemo returns a memo in front of kr, or nil when there is no keyring.
func newKeyMemo(kr keys.Lookup) keys.Lookup {
	if kr == nil {
		return nil
	}
	return &keyMemo{Lookup: kr, enc: map[string]memoRing{}, certs: map[string]memoCerts{}}
}

// EncryptionKeysPGP implements keys.Lookup.
func (m *keyMemo) EncryptionKeysPGP(ctx context.Context, addr string) (pgpmime.KeyRing, error) {
	if r, ok := m.enc[addr]; ok {
		return r.ring, r.err
	}
	ring, err := m.Lookup.EncryptionKeysPGP(ctx, addr)
	m.enc[addr] = memoRing{ring, err}
	return ring, err
}

// Certificates implements keys.Lookup.
func (m *keyMemo) Certificates(ctx context.Context, addr string) ([]*x509.Certificate, error) {
	if c, ok := m.certs[addr]; ok {
		return c.certs, c.err
	}
	certs, err := m.Lookup.Certificates(ctx, addr)
	m.certs[addr] = memoCerts{certs, err}
	return certs, err
}
