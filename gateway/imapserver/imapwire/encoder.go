package imapwire

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Encoder writes server responses, buffered: nothing reaches the client before Flush. The
// first write error sticks and is returned by Flush and Err. It is used by one goroutine
// at a time; a session serializes its writers.
type Encoder struct {
	bw  *bufio.Writer
	err error
	// UTF8 is set once the client ENABLEd UTF8=ACCEPT or IMAP4rev2: strings with 8-bit
	// text may then go out quoted, and mailbox names go out as UTF-8, not modified UTF-7.
	UTF8 bool
}

// NewEncoder writes responses to w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{bw: bufio.NewWriterSize(w, 16<<10)}
}

// Reset makes the Encoder write to w from now on (after STARTTLS or COMPRESS). Anything
// buffered is dropped: flush first.
func (e *Encoder) Reset(w io.Writer) { e.bw.Reset(w) }

// Err reports the first write error.
func (e *Encoder) Err() error { return e.err }

// Flush sends what is buffered.
func (e *Encoder) Flush() error {
	if e.err == nil {
		e.err = e.bw.Flush()
	}
	return e.err
}

// Raw writes s as it is.
func (e *Encoder) Raw(s string) *Encoder {
	if e.err == nil {
		_, e.err = e.bw.WriteString(s)
	}
	return e
}

// Byte writes one byte.
func (e *Encoder) Byte(c byte) *Encoder {
	if e.err == nil {
		e.err = e.bw.WriteByte(c)
	}
	return e
}

// SP writes a space.
func (e *Encoder) SP() *Encoder { return e.Byte(' ') }

// CRLF ends a response line.
func (e *Encoder) CRLF() *Encoder { return e.Raw("\r\n") }

// Atom writes s as an atom; the caller knows it is one (a flag, a keyword from the store's
// checked set, a response code).
func (e *Encoder) Atom(s string) *Encoder { return e.Raw(s) }

// Number writes a decimal number.
func (e *Encoder) Number(n uint32) *Encoder { return e.Number64(uint64(n)) }

// Number64 writes a decimal number64.
func (e *Encoder) Number64(n uint64) *Encoder {
	if e.err == nil {
		// Appended to the writer's own free space: a local array would escape to the heap
		// through Write, one allocation per number.
		_, e.err = e.bw.Write(strconv.AppendUint(e.bw.AvailableBuffer(), n, 10))
	}
	return e
}

// Nil writes NIL.
func (e *Encoder) Nil() *Encoder { return e.Raw("NIL") }

// String writes s as a quoted string where it can be one, else as a literal: a literal for
// CR, LF or NUL, for long text, and for 8-bit text unless the client takes UTF-8.
func (e *Encoder) String(s string) *Encoder {
	if !e.quotable(s) {
		return e.Literal([]byte(s))
	}
	e.Byte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			e.Byte('\\')
		}
		e.Byte(s[i])
	}
	return e.Byte('"')
}

// quotedMax is the longest string sent quoted: longer ones are cheaper to parse as literals.
const quotedMax = 1024

func (e *Encoder) quotable(s string) bool {
	if len(s) > quotedMax {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' || c == 0 {
			return false
		}
		if c >= 0x80 && !e.UTF8 {
			return false
		}
	}
	return !e.UTF8 || utf8.ValidString(s)
}

// NString writes s, or NIL when ok is false.
func (e *Encoder) NString(s string, ok bool) *Encoder {
	if !ok {
		return e.Nil()
	}
	return e.String(s)
}

// AString writes s as an atom when it is one, else as a string.
func (e *Encoder) AString(s string) *Encoder {
	if s == "" || strings.EqualFold(s, "NIL") {
		return e.String(s)
	}
	for i := 0; i < len(s); i++ {
		if !IsAStringChar(s[i]) {
			return e.String(s)
		}
	}
	return e.Raw(s)
}

// Mailbox writes a mailbox name: UTF-8 for a client that takes it, modified UTF-7 for the
// others (RFC 9051 §5.1, RFC 3501 §5.1.3). Names other than INBOX go out as strings, never
// atoms, as most servers send them.
func (e *Encoder) Mailbox(name string) *Encoder {
	if strings.EqualFold(name, "INBOX") {
		return e.Raw("INBOX")
	}
	if !e.UTF8 {
		name = EncodeMUTF7(name)
	}
	return e.String(name)
}

// Literal writes b as a literal ("{n}" and the bytes).
func (e *Encoder) Literal(b []byte) *Encoder {
	e.Byte('{').Number64(uint64(len(b))).Raw("}\r\n")
	if e.err == nil {
		_, e.err = e.bw.Write(b)
	}
	return e
}

// Literal8 writes b as a literal8 ("~{n}" and the bytes; RFC 3516 BINARY).
func (e *Encoder) Literal8(b []byte) *Encoder {
	e.Byte('~')
	return e.Literal(b)
}

// LiteralFrom writes a literal of size bytes copied from r, for bodies too large to hold:
// r must give exactly size bytes. binary selects literal8.
func (e *Encoder) LiteralFrom(r io.Reader, size int64, binary bool) *Encoder {
	if binary {
		e.Byte('~')
	}
	e.Byte('{').Number64(uint64(size)).Raw("}\r\n")
	if e.err != nil {
		return e
	}
	n, err := io.CopyN(e.bw, r, size)
	if err == nil && n != size {
		err = io.ErrShortWrite
	}
	e.err = err
	return e
}

// Open starts a parenthesized list.
func (e *Encoder) Open() *Encoder { return e.Byte('(') }

// Close ends a parenthesized list.
func (e *Encoder) Close() *Encoder { return e.Byte(')') }

// Untagged starts an untagged response ("* ").
func (e *Encoder) Untagged() *Encoder { return e.Raw("* ") }

// Status writes a whole status response line: tag ("*" for untagged), OK/NO/BAD/BYE/
// PREAUTH, an optional response code (without brackets) and the text.
func (e *Encoder) Status(tag, kind, code, text string) *Encoder {
	e.Raw(tag).SP().Raw(kind).SP()
	if code != "" {
		e.Byte('[').Raw(code).Raw("] ")
	}
	return e.Raw(sanitizeText(text)).CRLF()
}

// Continue writes a command continuation request with text.
func (e *Encoder) Continue(text string) *Encoder {
	return e.Raw("+ ").Raw(sanitizeText(text)).CRLF()
}

// sanitizeText keeps human-readable response text on its line: CR, LF and NUL would end
// or corrupt the response, and "[" at the start would read as a response code.
func sanitizeText(s string) string {
	if s == "" {
		return "done"
	}
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
	if s[0] == '[' {
		s = " " + s
	}
	return s
}
