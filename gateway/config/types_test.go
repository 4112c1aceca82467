package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"5d", 5 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"0d", 0},
		{"0", 0},
		{"1.5s", 1500 * time.Millisecond},
		{"2d30s", 48*time.Hour + 30*time.Second},
	} {
		got, err := ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "-1h", "-5d", "1d-1h", "abc", "5", "d", "1.5d", "+1d", "1h1d", "1d1d", "99999999999d"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
	if _, err := ParseDuration("-1h"); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("ParseDuration(-1h) error = %v, want one saying negative", err)
	}
}

func TestDurationString(t *testing.T) {
	for _, tt := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{5 * 24 * time.Hour, "5d"},
		{36 * time.Hour, "1d12h"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{10 * time.Minute, "10m"},
		{30 * time.Second, "30s"},
		{1500 * time.Millisecond, "1.5s"},
		{24*time.Hour + time.Second, "1d1s"},
		{time.Hour + 500*time.Millisecond, "1h0m0.5s"},
	} {
		d := Duration{tt.in}
		if got := d.String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.in, got, tt.want)
		}
		text, _ := d.MarshalText()
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Errorf("round trip of %v through %q = %v, %v", tt.in, text, back, err)
		}
		if d.D() != tt.in {
			t.Errorf("D() = %v, want %v", d.D(), tt.in)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Size
	}{
		{"50MiB", 50 << 20},
		{"10MB", 10_000_000},
		{"512KiB", 512 << 10},
		{"1GiB", 1 << 30},
		{"2TiB", 2 << 40},
		{"1KB", 1000},
		{"1GB", 1e9},
		{"1024", 1024},
		{"1024B", 1024},
		{"10 mib", 10 << 20},
		{"0", 0},
	} {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "-1", "-5MiB", "1.5MiB", "10M", "MiB", "10 parsecs", "9999999999TiB", "99999999999999999999"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %v, want an error", in, got)
		}
	}
}

func TestSizeString(t *testing.T) {
	for _, tt := range []struct {
		in   Size
		want string
	}{
		{0, "0B"},
		{50 * MiB, "50MiB"},
		{10_000_000, "10MB"},
		{512 * KiB, "512KiB"},
		{GiB, "1GiB"},
		{1000, "1KB"},
		{1234, "1234B"},
		{1536, "1536B"}, // 1.5KiB: no unit divides it exactly
	} {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", tt.in, got, tt.want)
		}
		back, err := ParseSize(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("round trip of %d = %v, %v", tt.in, back, err)
		}
	}
}

func TestSizeInTOML(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Size
	}{
		{"max_message_size = 1048576", MiB},
		{`max_message_size = "10MB"`, 10_000_000},
		{`max_message_size = "1GiB"`, GiB},
	} {
		c, err := Parse([]byte("[limits]\n" + tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if c.Limits.MaxMessageSize != tt.want {
			t.Errorf("%s: got %v, want %v", tt.in, c.Limits.MaxMessageSize, tt.want)
		}
	}
	for _, in := range []string{"max_message_size = -1", `max_message_size = "-1MiB"`, "max_message_size = 1.5", "max_message_size = true", "max_message_size = 0"} {
		if _, err := Parse([]byte("[limits]\n" + in)); err == nil || !strings.Contains(err.Error(), "limits.max_message_size: ") {
			t.Errorf("%s: error = %v, want a limits.max_message_size problem", in, err)
		}
	}
}

func TestDurationInTOML(t *testing.T) {
	c, err := Parse([]byte("[queue]\nlifetime = \"1d12h\"\nmin_backoff = \"90s\"\nmax_backoff = \"2h\""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Queue.Lifetime.D() != 36*time.Hour || c.Queue.MinBackoff.D() != 90*time.Second || c.Queue.MaxBackoff.D() != 2*time.Hour {
		t.Errorf("queue = %+v", c.Queue)
	}
	for in, want := range map[string]string{
		`lifetime = "-1h"`: `queue.lifetime: "-1h" is not a duration: negative durations are not allowed`,
		`lifetime = 300`:   `queue.lifetime: must be a string like "90m" or "5d", not an integer`,
		`lifetime = "5x"`:  `queue.lifetime: "5x" is not a duration`,
		`lifetime = "0s"`:  `queue.lifetime: must be longer than 0, not 0s`,
	} {
		_, err := Parse([]byte("[queue]\n" + in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error = %v, want it to contain %q", in, err, want)
		}
	}
}
