package mimelimit

import "bytes"

// Boundaries tracks the boundaries of the open multipart entities while a message is read
// line by line: boundary → the index (in the reader's stack of open multiparts) of the
// outermost one with it. A delimiter line belongs to the outermost open multipart whose
// boundary it names, which ends every multipart inside that one (RFC 2046 section 5.1.1, as
// mail clients and go-message read it). Check and the MIME tree parser of mimeutil follow
// the structure with it alike.
type Boundaries map[string]int

// Open records that the multipart at index i has boundary b, unless one further out has it.
func (bs Boundaries) Open(b string, i int) {
	if _, ok := bs[b]; !ok {
		bs[b] = i
	}
}

// Close forgets boundary b when the multipart at index i, now ended, is the one that has it.
func (bs Boundaries) Close(b string, i int) {
	if bs[b] == i {
		delete(bs, b)
	}
}

// Match finds the multipart whose delimiter line line is ("--", the boundary, then "--" for
// the close delimiter, then white space): its index, whether the line closes it, and
// whether it is one at all. line starts with "--".
func (bs Boundaries) Match(line []byte) (i int, closing, ok bool) {
	rest := bytes.TrimRight(line[2:], " \t\r\n")
	i, ok = bs[string(rest)]
	if bytes.HasSuffix(rest, []byte("--")) {
		if j, isClose := bs[string(rest[:len(rest)-2])]; isClose && (!ok || j < i) {
			return j, true, true
		}
	}
	return i, false, ok
}
