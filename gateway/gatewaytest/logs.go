package gatewaytest

import (
	"strconv"
	"strings"
)

// LogRecords returns the records logged so far with message msg, each as its attributes
// (key → value as the text handler wrote it, unquoted), in order.
func (l *LogBuffer) LogRecords(msg string) []map[string]string {
	var out []map[string]string
	for _, line := range strings.Split(l.String(), "\n") {
		if rec := parseLogLine(line); rec != nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// Find returns the first record with message msg whose attributes include every key=value
// pair of want.
func (l *LogBuffer) Find(msg string, want map[string]string) (map[string]string, bool) {
next:
	for _, rec := range l.LogRecords(msg) {
		for k, v := range want {
			if rec[k] != v {
				continue next
			}
		}
		return rec, true
	}
	return nil, false
}

// parseLogLine reads one line of slog's text handler: key=value pairs separated by spaces,
// values quoted in Go syntax when they need it. nil when the line is not one.
func parseLogLine(line string) map[string]string {
	rec := map[string]string{}
	for line != "" {
		k, rest, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \"") {
			return nil
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil
			}
			v, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			v, rest, _ = strings.Cut(rest, " ")
			rest = " " + rest
		}
		rec[k] = v
		line = strings.TrimPrefix(rest, " ")
	}
	return rec
}
