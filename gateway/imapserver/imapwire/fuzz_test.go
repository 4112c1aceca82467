package imapwire

import (
	"bytes"
	"io"
	"testing"
)

// FuzzDecoder: whatever a client sends, reading commands token by token, refusing or taking
// literals and discarding failed commands never panics, always ends, and never reads a
// literal the server refused as command text (every byte read once at most).
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		"a LOGIN x y\r\n",
		"c APPEND INBOX {6000+}\r\nz1 CREATE X\r\n",
		"a APPEND INBOX (\\Seen) {5}\r\nhello\r\nb NOOP\r\n",
		"a LOGIN {3+}\r\nabc {3+}\r\ndef\r\n",
		"a SEARCH TEXT {99999999999999999999+}\r\n",
		"a LIST \"\" ~foo\r\n",
		"x {0+}\r\n\r\n",
		"a APPEND INBOX ~{4+}\r\n\x00\x01\x02\x03\r\n",
	} {
		f.Add([]byte(s), uint8(10))
	}
	f.Fuzz(func(t *testing.T, in []byte, limit uint8) {
		counter := &countingReader{r: bytes.NewReader(in)}
		d := NewDecoder(slowReader{counter}, Options{MaxLine: 200, MaxSkip: 300, Continue: func() error { return nil }})
		for i := 0; i <= len(in); i++ {
			err := readGeneric(d, int64(limit))
			if err == nil {
				continue
			}
			if !IsCommandError(err) {
				return // the session ends: EOF or a literal too large to skip
			}
			if err := d.Discard(); err != nil {
				return
			}
		}
		if counter.n < int64(len(in)) {
			t.Fatalf("no end after %d commands of %d bytes", len(in)+1, len(in))
		}
	})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readGeneric reads a command of any shape: tag, name and arguments of atoms, strings and
// nested lists.
func readGeneric(d *Decoder, maxLiteral int64) error {
	d.Begin()
	if _, err := d.ReadTag(); err != nil {
		return err
	}
	if err := d.SP(); err != nil {
		return err
	}
	if _, err := d.ReadAtom(); err != nil {
		return err
	}
	for {
		end, err := d.AtEnd()
		if err != nil {
			return err
		}
		if end {
			return d.CRLF()
		}
		if err := d.SP(); err != nil {
			return err
		}
		if err := readArg(d, maxLiteral, 0); err != nil {
			return err
		}
	}
}

func readArg(d *Decoder, maxLiteral int64, depth int) error {
	c, err := d.Peek()
	if err != nil {
		return err
	}
	if c == '(' {
		if depth > 8 {
			return &CommandError{Msg: "too deep"}
		}
		return d.ReadList(func() error { return readArg(d, maxLiteral, depth+1) })
	}
	_, err = d.ReadAString(maxLiteral)
	return err
}
