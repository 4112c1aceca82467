package webmail

import (
	"bufio"
	"context"
	"io"

	"github.com/sealgate/sealgate/gateway/imapserver"
)

// indexMailbox puts messages the IMAP server's background indexer has not reached yet (and
// messages web mail appended itself, such as Sent copies) into the search index before a
// listing or a search, with the IMAP server's own indexing code, so both read one form.
// Bounded per request: 64 batches of 256 messages, the rest next time.
func (s *Server) indexMailbox(ctx context.Context, mailboxID int64) error {
	return imapserver.IndexMailbox(ctx, s.opts.Store, mailboxID, 64)
}

func readRawHeader(br *bufio.Reader) ([]byte, error) {
	var raw []byte
	for len(raw) < 1<<20 {
		line, err := br.ReadSlice('\n')
		raw = append(raw, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			return raw, nil
		}
		if err != nil {
			return nil, err
		}
		if string(line) == "\r\n" || string(line) == "\n" {
			return raw, nil
		}
	}
	return raw, nil
}
