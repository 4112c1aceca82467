package imapserver

import (
	"bytes"

	"github.com/emersion/go-imap/v2"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// FetchChunkSize is how many messages FETCH reads from the store at a time.
const FetchChunkSize = fetchChunkSize

// BodyStructureOf is the extended BODYSTRUCTURE of a message, as FETCH builds it.
func BodyStructureOf(msg []byte) imap.BodyStructure {
	return bodyStructure(mimeutil.Scan(bytes.NewReader(msg)), true)
}

// SearchChunk is how many messages SEARCH reads from the store at a time.
const SearchChunk = searchChunk

// EnvelopeWire is the ENVELOPE FETCH sends for a message's header section (whole) and for
// the same header inside a message/rfc822 part (part).
func EnvelopeWire(raw []byte) (whole, part []byte) {
	return EncodeEnvelope(raw), appendEnvelope(nil, envelope{Envelope: partEnvelope(raw)})
}
