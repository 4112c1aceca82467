package smtpserver

import (
	"bufio"
	"io"
)

// Hooks for the external tests (fuzz_test.go) into the engine's parsers and DATA reader.

// DecodeData reads one DATA message from src through a read buffer of bufSize bytes.
func DecodeData(src io.Reader, bufSize int) (msg, rest []byte, err error) {
	br := bufio.NewReaderSize(src, bufSize)
	msg, err = io.ReadAll(newDataReader(br, nil))
	if err != nil {
		return msg, nil, err
	}
	rest, _ = io.ReadAll(br)
	return msg, rest, nil
}

// DecodeDataLines is the byte-at-a-time reference decoding DecodeData is compared with.
var DecodeDataLines = decodeDataLines

// ParseCommandLine parses a command line the way the engine does before acting on it.
func ParseCommandLine(line []byte) (verb, arg, path string, params int, err error) {
	verb, arg = parseCommand(line)
	rest, ok := "", false
	switch verb {
	case cmdMAIL:
		if rest, ok = cutPrefixFold(arg, "FROM:"); !ok {
			return verb, arg, "", 0, errSyntax
		}
		path, rest, err = parsePath(rest, true)
	case cmdRCPT:
		if rest, ok = cutPrefixFold(arg, "TO:"); !ok {
			return verb, arg, "", 0, errSyntax
		}
		path, rest, err = parsePath(rest, false)
	case cmdBDAT:
		_, _, err = parseBDAT(arg)
		return verb, arg, "", 0, err
	default:
		return verb, arg, "", 0, nil
	}
	if err != nil {
		return verb, arg, "", 0, err
	}
	ps, err := parseParams(rest)
	if err == nil && verb == cmdMAIL {
		_, err = parseMailParams(ps)
	}
	return verb, arg, path, len(ps), err
}

// Pieces returns data in pieces of the given sizes, cycling through them (chunkedReader).
func Pieces(data []byte, sizes ...int) io.Reader {
	return &chunkedReader{data: data, sizes: sizes}
}
