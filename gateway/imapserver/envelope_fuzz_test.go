package imapserver_test

import (
	"bytes"
	"testing"

	"github.com/sealgate/sealgate/gateway/imapserver"
)

// FuzzEnvelope builds the ENVELOPE of arbitrary header sections: it never panics, and the
// stored form is an ENVELOPE as it goes on the wire, one parenthesised list.
func FuzzEnvelope(f *testing.F) {
	for _, h := range hostileEnvelopeHeaders {
		f.Add([]byte(h))
	}
	for _, m := range envelopeFixtures {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		whole, part := imapserver.EnvelopeWire(raw)
		for _, env := range [][]byte{whole, part} {
			if !bytes.HasPrefix(env, []byte("(")) || !bytes.HasSuffix(env, []byte(")")) {
				t.Fatalf("ENVELOPE %q of %q is not a list", env, raw)
			}
		}
	})
}
