package pipeline

import (
	"bytes"
	"strings"
)

// splitHeader returns the header section (with its final blank line) and the body. A message
// with no blank line is all header.
func splitHeader(msg []byte) (header, body []byte) {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+4], msg[i+4:]
	}
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		return msg[:i+2], msg[i+2:]
	}
	return msg, nil
}

// dropFields removes header fields for which drop(name, value) is true, folded continuation
// lines included, and keeps every other byte of the message as it was.
func dropFields(msg []byte, drop func(name, value string) bool) ([]byte, int) {
	header, body := splitHeader(msg)
	var out bytes.Buffer
	out.Grow(len(msg))
	removed := 0
	lines := bytes.SplitAfter(header, []byte("\n"))
	for i := 0; i < len(lines); {
		// A field is its first line plus the continuation lines (starting with space or tab).
		j := i + 1
		for j < len(lines) && len(lines[j]) > 0 && (lines[j][0] == ' ' || lines[j][0] == '\t') {
			j++
		}
		field := bytes.Join(lines[i:j], nil)
		name, value, ok := bytes.Cut(field, []byte(":"))
		if ok && drop(strings.TrimSpace(string(name)), strings.TrimSpace(string(value))) {
			removed++
		} else {
			out.Write(field)
		}
		i = j
	}
	out.Write(body)
	return out.Bytes(), removed
}
