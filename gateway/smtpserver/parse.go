package smtpserver

import (
	"errors"
	"strconv"
	"strings"
)

// Command verbs, as parseCommand returns them.
const (
	cmdHELO     = "HELO"
	cmdEHLO     = "EHLO"
	cmdMAIL     = "MAIL"
	cmdRCPT     = "RCPT"
	cmdDATA     = "DATA"
	cmdBDAT     = "BDAT"
	cmdRSET     = "RSET"
	cmdNOOP     = "NOOP"
	cmdQUIT     = "QUIT"
	cmdVRFY     = "VRFY"
	cmdHELP     = "HELP"
	cmdAUTH     = "AUTH"
	cmdSTARTTLS = "STARTTLS"
	cmdEXPN     = "EXPN"
	cmdUnknown  = ""
)

// parseCommand splits a command line (without its line ending) into its verb, one of the cmd
// constants, and its argument with surrounding white space removed. Unknown or unimplemented
// verbs (other than EXPN) come back as cmdUnknown.
func parseCommand(line []byte) (verb, arg string) {
	word := line
	var rest []byte
	for i, b := range line {
		if b == ' ' || b == '\t' {
			word, rest = line[:i], line[i+1:]
			break
		}
	}
	if len(word) < 4 || len(word) > 8 {
		return cmdUnknown, ""
	}
	var up [8]byte
	for i, b := range word {
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		up[i] = b
	}
	switch string(up[:len(word)]) {
	case cmdHELO:
		verb = cmdHELO
	case cmdEHLO:
		verb = cmdEHLO
	case cmdMAIL:
		verb = cmdMAIL
	case cmdRCPT:
		verb = cmdRCPT
	case cmdDATA:
		verb = cmdDATA
	case cmdBDAT:
		verb = cmdBDAT
	case cmdRSET:
		verb = cmdRSET
	case cmdNOOP:
		verb = cmdNOOP
	case cmdQUIT:
		verb = cmdQUIT
	case cmdVRFY:
		verb = cmdVRFY
	case cmdHELP:
		verb = cmdHELP
	case cmdAUTH:
		verb = cmdAUTH
	case cmdSTARTTLS:
		verb = cmdSTARTTLS
	case cmdEXPN, "SEND", "SOML", "SAML", "TURN", "ETRN":
		verb = cmdEXPN
	default:
		return cmdUnknown, ""
	}
	return verb, strings.Trim(string(rest), " \t")
}

// cutPrefixFold removes prefix from s, ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

var errSyntax = errors.New("smtpserver: syntax error")

// parsePath parses a forward-path (RFC 5321 §4.1.2): "<" [source route ":"] mailbox ">",
// where the angle brackets may be missing, as some clients send it. It returns the mailbox
// with a quoted local part unquoted (source routes are dropped, §3.6.1) and what follows the
// path. With null set, "<>" is accepted and returned as "".
func parsePath(s string, null bool) (mailbox, rest string, err error) {
	s = strings.TrimLeft(s, " \t")
	if null && strings.HasPrefix(s, "<>") {
		return "", s[2:], nil
	}
	bracket := strings.HasPrefix(s, "<")
	if bracket {
		s = s[1:]
	}
	if strings.HasPrefix(s, "@") {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return "", "", errSyntax
		}
		s = s[i+1:]
	}
	var b strings.Builder
	// Local part: a quoted string or a dot-string.
	if strings.HasPrefix(s, `"`) {
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' {
				i++
				if i == len(s) {
					return "", "", errSyntax
				}
			}
			b.WriteByte(s[i])
		}
		if i == len(s) {
			return "", "", errSyntax
		}
		s = s[i+1:]
	} else {
		i := 0
		for ; i < len(s) && s[i] != '@'; i++ {
			if c := s[i]; c < 0x21 || c == 0x7f || strings.IndexByte("()<>[]:;\\,\"", c) >= 0 {
				return "", "", errSyntax
			}
		}
		b.WriteString(s[:i])
		s = s[i:]
	}
	if b.Len() == 0 || !strings.HasPrefix(s, "@") {
		return "", "", errSyntax
	}
	// Domain: up to the closing bracket or white space.
	end := strings.IndexAny(s, "> \t")
	if end < 0 {
		end = len(s)
	}
	if end == 1 {
		return "", "", errSyntax
	}
	for i := 1; i < end; i++ {
		if c := s[i]; c < 0x21 || c == 0x7f || c == '<' || c == '"' {
			return "", "", errSyntax
		}
	}
	b.WriteString(s[:end])
	s = s[end:]
	if bracket {
		if !strings.HasPrefix(s, ">") {
			return "", "", errSyntax
		}
		s = s[1:]
	}
	return b.String(), s, nil
}

// param is one ESMTP parameter of MAIL or RCPT: KEYWORD[=value].
type param struct {
	key   string // upper case
	value string
	set   bool // "=" was given
}

// parseParams parses the parameters after a path; rest must be empty or begin with a space.
func parseParams(rest string) ([]param, error) {
	if rest == "" {
		return nil, nil
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return nil, errSyntax
	}
	var ps []param
	for _, f := range strings.Fields(rest) {
		k, v, set := strings.Cut(f, "=")
		if k == "" || (set && v == "") {
			return nil, errSyntax
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && i > 0) {
				return nil, errSyntax
			}
		}
		if strings.IndexByte(v, '=') >= 0 {
			return nil, errSyntax
		}
		ps = append(ps, param{key: strings.ToUpper(k), value: v, set: set})
	}
	return ps, nil
}

// parseMailParams interprets the parameters of MAIL FROM: SIZE (RFC 1870), BODY (RFC 6152),
// SMTPUTF8 (RFC 6531) and AUTH (RFC 4954, accepted and ignored). Anything else, a repeated
// parameter or a malformed value is an error.
func parseMailParams(ps []param) (mailParams, error) {
	var p mailParams
	var seen [4]bool
	for _, x := range ps {
		var i int
		switch x.key {
		case "SIZE":
			i = 0
			n, err := strconv.ParseInt(x.value, 10, 64)
			if err != nil || n < 0 || x.value[0] == '+' {
				return p, errSyntax
			}
			p.size = n
		case "BODY":
			i = 1
			if !strings.EqualFold(x.value, "7BIT") && !strings.EqualFold(x.value, "8BITMIME") {
				return p, errSyntax
			}
		case "SMTPUTF8":
			i = 2
			if x.set {
				return p, errSyntax
			}
			p.utf8 = true
		case "AUTH":
			i = 3
			if !x.set {
				return p, errSyntax
			}
		default:
			return p, errSyntax
		}
		if seen[i] {
			return p, errSyntax
		}
		seen[i] = true
	}
	return p, nil
}

// parseBDAT parses the argument of BDAT: a chunk size and an optional LAST.
func parseBDAT(arg string) (size int64, last bool, err error) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 {
		return 0, false, errSyntax
	}
	for i := 0; i < len(f[0]); i++ {
		if f[0][i] < '0' || f[0][i] > '9' {
			return 0, false, errSyntax
		}
	}
	size, err = strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, false, errSyntax
	}
	if len(f) == 2 {
		if !strings.EqualFold(f[1], "LAST") {
			return size, false, errSyntax
		}
		last = true
	}
	return size, last, nil
}
