package usermsg

import "testing"

func TestReadSenderCheck(t *testing.T) {
	cases := []struct {
		fields []string
		dmarc  string
	}{
		{[]string{"mx.example.test; spf=fail smtp.mailfrom=bank.test; dkim=none; dmarc=fail header.from=bank.test"}, "fail"},
		// Only the first field of ours counts: the gateway puts its own above the message's.
		{[]string{"mx.example.test; dmarc=pass header.from=bank.test", "mx.example.test; dmarc=fail header.from=bank.test"}, "pass"},
		{[]string{"(c) MX.Example.Test. 1; dmarc=fail header.from=bank.test"}, "fail"},
		// Another service's results are not ours.
		{[]string{"mx.other.test; dmarc=fail header.from=bank.test", "mx.example.test; dmarc=pass header.from=bank.test"}, "pass"},
		{[]string{"mx.other.test; dmarc=fail header.from=bank.test"}, ""},
		{nil, ""},
	}
	for _, tc := range cases {
		c := ReadSenderCheck(tc.fields, "mx.example.test")
		if c.DMARC != tc.dmarc || c.Failed() != (tc.dmarc == "fail") || (len(c.Badges()) == 1) != c.Failed() {
			t.Errorf("%q: %+v, want dmarc %q", tc.fields, c, tc.dmarc)
		}
	}
}
