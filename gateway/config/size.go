package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes. In TOML it is an integer (bytes) or a string
// with a unit: "512KiB", "50MiB", "1GiB" (powers of 1024) or "10MB", "1GB"
// (powers of 1000); "B" or no unit means bytes. It prints in the largest unit
// that divides it exactly.
type Size int64

// Binary size units.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	TiB Size = 1 << 40
)

// Units in the order String tries them: binary first, then decimal.
var sizeUnits = []struct {
	name string
	n    Size
}{
	{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
}

// String formats s like "50MiB", "10MB" or "1234B".
func (s Size) String() string {
	if s > 0 {
		for _, u := range sizeUnits {
			if s%u.n == 0 {
				return strconv.FormatInt(int64(s/u.n), 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalText implements encoding.TextMarshaler with String's form.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseSize.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := ParseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// UnmarshalTOML implements toml.Unmarshaler: a TOML integer is a number of
// bytes, a string goes through ParseSize.
func (s *Size) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("%d is not a size: sizes cannot be negative", v)
		}
		*s = Size(v)
		return nil
	case string:
		return s.UnmarshalText([]byte(v))
	default:
		return fmt.Errorf("must be a number of bytes or a string like \"50MiB\", not %s", tomlTypeName(v))
	}
}

// ParseSize parses a whole number of bytes with an optional unit: B, KB, MB,
// GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024). Units are
// matched without regard to case and may follow a space: "50MiB", "10 MB".
func ParseSize(str string) (Size, error) {
	t := strings.TrimSpace(str)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("%q is not a size: sizes cannot be negative", str)
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size: want a whole number of bytes with an optional unit, like \"512KiB\", \"10MB\" or \"50MiB\"", str)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: too large", str)
	}
	unit := strings.TrimSpace(t[i:])
	mult := Size(1)
	if unit != "" && !strings.EqualFold(unit, "B") {
		mult = 0
		for _, u := range sizeUnits {
			if strings.EqualFold(unit, u.name) {
				mult = u.n
				break
			}
		}
		if mult == 0 {
			return 0, fmt.Errorf("%q is not a size: unknown unit %q (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", str, unit)
		}
	}
	if n > math.MaxInt64/int64(mult) {
		return 0, fmt.Errorf("%q is not a size: too large", str)
	}
	return Size(n) * mult, nil
}
