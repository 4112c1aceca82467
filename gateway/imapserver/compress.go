package imapserver

import (
	"compress/flate"
	"io"
	"net"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealgate/sealgate/gateway/imapserver/imapwire"
)

// COMPRESS=DEFLATE (RFC 4978): after the tagged OK both directions are raw deflate (RFC
// 1951). The inflated bytes go through the same Decoder, so its line and literal limits
// bound what a small compressed command can grow into; a response is flushed (a deflate
// sync flush) with every write the Encoder makes, so nothing a client waits for stays in
// the compressor.

// cmdCompress runs COMPRESS DEFLATE.
func (s *session) cmdCompress(cmd *command) error {
	if err := s.args(); err != nil {
		return err
	}
	mech, err := s.dec.ReadAtom()
	if err != nil {
		return err
	}
	if err := s.dec.CRLF(); err != nil {
		return err
	}
	if _, on := s.nc.(*deflateConn); on {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "COMPRESSIONACTIVE", Text: "DEFLATE is already active"}
	}
	if !strings.EqualFold(mech, "DEFLATE") {
		return &imapwire.CommandError{Msg: "unknown compression mechanism " + mech}
	}
	s.enc.Status(cmd.tag, "OK", "", "DEFLATE active")
	if err := s.enc.Flush(); err != nil {
		return err
	}
	cmd.handled = true
	dc, err := newDeflateConn(s.nc)
	if err != nil {
		return err
	}
	s.setConn(dc) // a client does not pipeline past COMPRESS: nothing buffered is lost
	return nil
}

// deflateConn is a connection whose bytes are deflated both ways.
type deflateConn struct {
	net.Conn
	r io.ReadCloser
	w *flate.Writer
}

func newDeflateConn(c net.Conn) (*deflateConn, error) {
	w, err := flate.NewWriter(c, flate.DefaultCompression)
	if err != nil {
		return nil, err
	}
	return &deflateConn{Conn: c, r: flate.NewReader(c), w: w}, nil
}

func (c *deflateConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write compresses p and flushes it to the connection: the Encoder writes when a response
// burst is complete or its buffer is full.
func (c *deflateConn) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err == nil {
		err = c.w.Flush()
	}
	return n, err
}
