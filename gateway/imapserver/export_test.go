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
