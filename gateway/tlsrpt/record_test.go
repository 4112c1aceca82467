package tlsrpt_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/tlsrpt"
)

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		txts []string
		want []string
	}{
		{[]string{"v=TLSRPTv1; rua=mailto:a@example.org"}, []string{"a@example.org"}},
		{[]string{"v=TLSRPTv1;rua=mailto:a@example.org,mailto:b%40x@example.org?subject=x"}, []string{"a@example.org"}},
		{[]string{"v=TLSRPTv1; rua=https://reports.example.org/v1"}, nil},
		{[]string{"v=spf1 -all", "v=TLSRPTv1; rua=MAILTO:r@example.org"}, []string{"r@example.org"}},
		{[]string{"v=TLSRPTv1; rua=mailto:a@example.org", "v=TLSRPTv1; rua=mailto:b@example.org"}, nil}, // two records: none
		{[]string{"v=TLSRPTv2; rua=mailto:a@example.org"}, nil},
		{[]string{"v=TLSRPTv1; rua=mailto:Evil <a@example.org>"}, nil},
		{[]string{"v=TLSRPTv1; rua=mailto:a@example.org%0D%0ABcc: x@y"}, nil},
		{nil, nil},
	} {
		got, err := tlsrpt.ParseRecord(tc.txts)
		if tc.want == nil {
			if !errors.Is(err, tlsrpt.ErrNoRecord) {
				t.Errorf("%q: got %q, %v; want ErrNoRecord", tc.txts, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, %v; want %q", tc.txts, got, err, tc.want)
		}
	}
	// At most 16 addresses are taken from a record.
	many := "v=TLSRPTv1; rua=" + strings.Repeat("mailto:a@example.org,", 40)
	if got, err := tlsrpt.ParseRecord([]string{many}); err != nil || len(got) != 16 {
		t.Errorf("many: %d addresses, %v", len(got), err)
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add("v=TLSRPTv1; rua=mailto:a@example.org,https://x.example/")
	f.Add("v=TLSRPTv1;rua=mailto:%zz")
	f.Fuzz(func(t *testing.T, s string) {
		rua, err := tlsrpt.ParseRecord([]string{s})
		if err == nil && (len(rua) == 0 || len(rua) > 16) {
			t.Fatalf("%d addresses", len(rua))
		}
		for _, a := range rua {
			if strings.ContainsAny(a, "\r\n<>") {
				t.Fatalf("address %q", a)
			}
		}
	})
}
