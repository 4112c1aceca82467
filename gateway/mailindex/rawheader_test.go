package mailindex

import (
	"bufio"
	"strings"
	"testing"
)

// A header line longer than the reader's buffer, whose last fragment is its CRLF alone, does
// not end the header section: the fields after it stay in the header (ENVELOPE, searches).
func TestReadRawHeaderLongLine(t *testing.T) {
	long := "X-Long: " + strings.Repeat("a", 4096-8) + "\r\n"
	msg := long + "Subject: after the long line\r\n\r\nbody\r\n"
	for _, size := range []int{4096, 16} {
		raw, err := ReadRawHeader(bufio.NewReaderSize(strings.NewReader(msg), size))
		if err != nil || string(raw) != long+"Subject: after the long line\r\n\r\n" {
			t.Errorf("buffer %d: %d bytes read, %v", size, len(raw), err)
		}
	}
}
