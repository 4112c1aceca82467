package mailstore

import (
	"errors"
	"testing"
)

func TestLockMaildrop(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	release, err := s.LockMaildrop(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LockMaildrop(ctx, 1); !errors.Is(err, ErrInUse) {
		t.Fatalf("second lock: %v, want ErrInUse", err)
	}
	other, err := s.LockMaildrop(ctx, 2)
	if err != nil {
		t.Fatalf("another user's maildrop: %v", err)
	}
	defer other()
	release()
	release() // a second release does not free a lock taken since
	again, err := s.LockMaildrop(ctx, 1)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release()
	if _, err := s.LockMaildrop(ctx, 1); !errors.Is(err, ErrInUse) {
		t.Fatalf("a stale release freed the new holder's lock: %v", err)
	}
	again()
}
