package config

import "testing"

// FuzzParse checks that Parse never panics, and that what it accepts
// passes Validate.
func FuzzParse(f *testing.F) {
	f.Add([]byte(Example()))
	f.Add([]byte("[listen]\nsmpt = 1\n[queue]\nlifetime = \"-1h\""))
	f.Add([]byte("[outbound.routes]\n\"A.test\" = \"h:1\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err == nil && c.Validate() != nil {
			t.Errorf("Parse accepted a Config with problems %v", c.Validate())
		}
	})
}

// FuzzDurationSize checks that what ParseDuration and ParseSize accept
// prints in a form they read back to the same value.
func FuzzDurationSize(f *testing.F) {
	for _, s := range []string{"5d", "1d12h", "90m", "1.5s", "50MiB", "10 MB", "1024"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil {
			back, err := ParseDuration(Duration{d}.String())
			if err != nil || back != d {
				t.Errorf("duration %q = %v prints as %q, reads back as %v, %v", s, d, Duration{d}, back, err)
			}
		}
		if n, err := ParseSize(s); err == nil {
			back, err := ParseSize(n.String())
			if err != nil || back != n {
				t.Errorf("size %q = %d prints as %q, reads back as %v, %v", s, n, n, back, err)
			}
		}
	})
}
