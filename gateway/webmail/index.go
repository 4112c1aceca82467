package webmail

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"mime"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// The search index (mailstore's imap_search) is filled by the IMAP server's indexer after
// delivery; messages it has not reached yet (and messages web mail appended itself, such as
// Sent copies) are indexed here before a listing or a search, in the same form: decoded
// header fields as "Name: value" lines, the decoded text parts, and the raw header.

const maxIndexedText = 4 << 20

func (s *Server) indexMailbox(ctx context.Context, mailboxID int64) error {
	for range 64 { // bounded: 64 × 256 messages per request, the rest next time
		ids, err := s.opts.Store.UnindexedBodies(ctx, mailboxID, 256)
		if err != nil || len(ids) == 0 {
			return err
		}
		texts := make([]mailstore.SearchText, 0, len(ids))
		for _, id := range ids {
			rc, _, err := s.opts.Store.OpenBody(ctx, id)
			if err == mailstore.ErrNotFound {
				continue
			}
			if err != nil {
				return err
			}
			st, err := searchText(rc)
			rc.Close()
			if err != nil {
				return err
			}
			st.BodyID = id
			texts = append(texts, st)
		}
		if len(texts) == 0 {
			return nil
		}
		if err := s.opts.Store.PutSearchText(ctx, texts); err != nil {
			return err
		}
	}
	return nil
}

func searchText(r io.Reader) (mailstore.SearchText, error) {
	var st mailstore.SearchText
	br := bufio.NewReader(r)
	raw, err := readRawHeader(br)
	if err != nil {
		return st, err
	}
	hdr, herr := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if herr != nil {
		rest, err := io.ReadAll(io.LimitReader(io.MultiReader(bytes.NewReader(raw), br), maxIndexedText))
		st.Text = string(rest)
		return st, err
	}
	st.RawHeader = raw
	var hb strings.Builder
	dec := mime.WordDecoder{}
	fields := hdr.Fields()
	for fields.Next() {
		v := fields.Value()
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		hb.WriteString(fields.Key() + ": " + strings.Join(strings.Fields(v), " ") + "\n")
	}
	st.Header = hb.String()
	var text strings.Builder
	ent, err := gomessage.New(gomessage.Header{Header: hdr}, br)
	if err == nil || gomessage.IsUnknownCharset(err) || gomessage.IsUnknownEncoding(err) {
		collectText(ent, &text, 0)
	}
	st.Text = text.String()
	return st, nil
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

func collectText(e *gomessage.Entity, b *strings.Builder, depth int) {
	if depth > 20 {
		return
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if p == nil || err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
				return
			}
			collectText(p, b, depth+1)
		}
	}
	t, _, _ := e.Header.ContentType()
	if t == "" {
		t = "text/plain"
	}
	if !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return
	}
	room := maxIndexedText - b.Len()
	if room <= 0 {
		return
	}
	data, _ := io.ReadAll(io.LimitReader(e.Body, int64(room)))
	b.Write(data)
	b.WriteByte('\n')
}
