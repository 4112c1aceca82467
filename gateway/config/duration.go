package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a non-negative time.Duration that reads and prints with an
// optional leading day count: "5d", "1d12h", "90m". Use d.Duration or d.D()
// for the time.Duration.
//
// In TOML a Duration is a string; a bare number is refused because its unit
// would be a guess.
type Duration struct{ time.Duration }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return d.Duration }

// String formats d like "5d", "1d12h", "1h30m" or "45s": whole days first,
// then time.Duration's form without trailing zero units.
func (d Duration) String() string { return formatDuration(d.Duration) }

// MarshalText implements encoding.TextMarshaler with String's form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseDuration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// UnmarshalTOML implements toml.Unmarshaler so that a TOML value of the
// wrong type gets a message that says what is expected.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a string like \"90m\" or \"5d\", not %s", tomlTypeName(v))
	}
	return d.UnmarshalText([]byte(s))
}

// ParseDuration parses a Go duration (time.ParseDuration) that may start with
// a whole number of days: "5d", "1d12h", "90m", "1h30m". Negative durations
// are refused.
func ParseDuration(s string) (time.Duration, error) {
	bad := func(why string) error {
		return fmt.Errorf("%q is not a duration: %s", s, why)
	}
	if s == "" {
		return 0, errors.New("empty duration: want one like \"90m\", \"1h30m\" or \"5d\"")
	}
	if strings.HasPrefix(s, "-") {
		return 0, bad("negative durations are not allowed")
	}
	rest := s
	var days int64
	if i := strings.IndexByte(rest, 'd'); i >= 0 {
		n, err := strconv.ParseUint(rest[:i], 10, 63) // digits only: no sign
		if err != nil {
			return 0, bad("days must be a whole number at the start, like \"5d\" or \"1d12h\"")
		}
		days, rest = int64(n), rest[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		d, err = time.ParseDuration(rest)
		if err != nil {
			return 0, bad("want a Go duration like \"90m\" or \"1h30m\", optionally after days like \"5d\" or \"1d12h\"")
		}
		if d < 0 {
			return 0, bad("negative durations are not allowed")
		}
	}
	const day = 24 * time.Hour
	if days > (math.MaxInt64-int64(d))/int64(day) {
		return 0, bad("too long")
	}
	return time.Duration(days)*day + d, nil
}

func formatDuration(d time.Duration) string {
	if d <= 0 {
		if d == 0 {
			return "0s"
		}
		return d.String()
	}
	const day = 24 * time.Hour
	var b strings.Builder
	if days := d / day; days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('d')
	}
	if rest := d % day; rest > 0 {
		s := rest.String() // "1h0m0s", "1h30m0s", "10m0s", "30s", "1.5s"
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		b.WriteString(s)
	}
	return b.String()
}

// tomlTypeName names the TOML type of a value decoded by BurntSushi/toml.
func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("a %T", v)
	}
}
