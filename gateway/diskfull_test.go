package gateway_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// TestDiskFull runs the gateway on a small tmpfs: when the disk fills, DATA is answered
// 452 4.3.1 and nothing half-stored remains; when space returns, mail flows again, and every
// message answered 250 is there.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	// Unmount after the gateway has shut down (cleanups run last-registered first).
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	env := gatewaytest.StartIn(t, filepath.Join(mnt, "data"))
	env.AddUser("bob@localhost", bobPW)

	// Leave about 3 MiB free.
	var st syscall.Statfs_t
	syscall.Statfs(mnt, &st)
	free := int64(st.Bavail) * int64(st.Bsize)
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, free-3<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := smtp.Dial(env.GW.Addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 4000) // 256 KiB
	var acked []string
	full := false
	for i := 0; i < 40 && !full; i++ {
		id := fmt.Sprintf("msg-%d", i)
		err := c.SendMail("x@outside.test", []string{"bob@localhost"}, bytes.NewReader(append([]byte("Subject: "+id+"\r\n\r\n"), body...)))
		var se *smtp.SMTPError
		switch {
		case err == nil:
			acked = append(acked, id)
		case errors.As(err, &se) && se.Code == 452 && se.EnhancedCode == smtp.EnhancedCode{4, 3, 1}:
			full = true
		default:
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if !full {
		t.Fatal("the disk never filled")
	}
	if len(acked) == 0 {
		t.Fatal("nothing was accepted before the disk filled")
	}
	// Space returns: the same session goes on.
	os.Remove(filler)
	if err := c.SendMail("x@outside.test", []string{"bob@localhost"}, strings.NewReader("Subject: after\r\n\r\nok\r\n")); err != nil {
		t.Fatalf("after space returned: %v", err)
	}
	acked = append(acked, "after")
	var got []string
	for _, m := range env.Mailbox("bob@localhost", "INBOX") {
		got = append(got, fieldValue(m.Body, "Subject"))
	}
	if strings.Join(got, ",") != strings.Join(acked, ",") {
		t.Fatalf("stored %v, acknowledged %v", got, acked)
	}
	if probs, err := env.Embedded().Check(t.Context()); err != nil || len(probs) != 0 {
		t.Fatalf("store check: %v %v", probs, err)
	}
}
