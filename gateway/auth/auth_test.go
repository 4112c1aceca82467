package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

func TestHashAndVerify(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !VerifyPassword(h, "correct horse") || VerifyPassword(h, "correct horsE") || VerifyPassword(h, "") {
		t.Fatal("verify gives the wrong answer")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=1,t=1,p=1$$", "$argon2i$v=19$m=19456,t=2,p=1$AAAA$AAAA"} {
		if VerifyPassword(bad, "x") {
			t.Fatalf("malformed hash %q verified", bad)
		}
	}
	if _, err := HashPassword(""); err == nil {
		t.Fatal("empty password hashed")
	}
}

func TestStoreAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, _ := HashPassword("pw")
	if _, err := s.AddUser(ctx, address.Address{Local: "alice", Domain: "x.test"}, h); err != nil {
		t.Fatal(err)
	}
	a := New(Options{Accounts: s, Throttle: NewThrottle(ThrottleOptions{FreeFailures: 100})})
	ip := netip.MustParseAddr("192.0.2.1")
	if u, err := a.Authenticate(ctx, "ALICE@x.test", "pw", ip); err != nil || u.Address != "alice@x.test" {
		t.Fatalf("login: %+v %v", u, err)
	}
	for _, c := range [][2]string{{"alice@x.test", "wrong"}, {"nobody@x.test", "pw"}, {"not an address", "pw"}} {
		if _, err := a.Authenticate(ctx, c[0], c[1], ip); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("%v: %v, want ErrInvalidCredentials", c, err)
		}
	}
}

func TestThrottle(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	th := NewThrottle(ThrottleOptions{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: 4 * time.Second,
		AccountFailures: 6, NetworkFailures: 20, Window: time.Minute, Now: func() time.Time { return now }})
	ip := netip.MustParseAddr("2001:db8::1")
	sameNet := netip.MustParseAddr("2001:db8::2") // same /64
	var delays []time.Duration
	for i := 0; i < 6; i++ {
		if err := th.Allow(ctx, ip, "a"); err != nil {
			t.Fatalf("attempt %d refused early", i)
		}
		delays = append(delays, th.Fail(ctx, ip, "a"))
	}
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays %v, want %v", delays, want)
		}
	}
	if err := th.Allow(ctx, sameNet, "a"); !errors.Is(err, ErrThrottled) {
		t.Fatal("same /64, same account not throttled")
	}
	if err := th.Allow(ctx, sameNet, "b"); err != nil {
		t.Fatal("another account from the network throttled before the network limit")
	}
	// The account itself is never locked: another network gets through at once.
	if err := th.Allow(ctx, netip.MustParseAddr("192.0.2.9"), "a"); err != nil {
		t.Fatalf("account locked for every network: %v", err)
	}
	// A network spraying many accounts is throttled as a whole (IPv4 per /24).
	v4 := netip.MustParseAddr("198.51.100.7")
	for i := 0; i < 20; i++ {
		th.Fail(ctx, v4, fmt.Sprint("user", i))
	}
	if err := th.Allow(ctx, netip.MustParseAddr("198.51.100.200"), "fresh"); !errors.Is(err, ErrThrottled) {
		t.Fatal("spraying /24 not throttled")
	}
	now = now.Add(2 * time.Minute)
	if err := th.Allow(ctx, ip, "a"); err != nil {
		t.Fatal("throttling outlived its window")
	}
}
