package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// TestBackupRestoreUnderLoad: a backup taken while four SMTP clients deliver (some bodies
// large enough to be files) and an IMAP client expunges large messages as they arrive in
// another mailbox (so body files disappear during the copy), restored into a new directory,
// passes `sealgate check`, and a gateway started on it serves over IMAP every message
// acknowledged before the backup began, with the keyring's secret key opening under the
// carried master key.
func TestBackupRestoreUnderLoad(t *testing.T) {
	env := gatewaytest.Start(t)
	env.AddUser("alice@localhost", "pw-alice")
	env.AddUser("bob@localhost", "pw-bob")
	d := []string{"--data", env.Dir}
	mustRun(t, "", append(d, "keys", "generate", "alice@localhost", "--pgp")...)

	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		wg    sync.WaitGroup
		errs  = make(chan error, 6)
	)
	big := strings.Repeat(strings.Repeat("x", 76)+"\r\n", 1<<20/78+100) // above mailstore.InlineLimit
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := smtp.Dial(env.GW.Addr("smtp"))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for n := 0; ; n++ {
				select {
				case <-stop:
					errs <- c.Quit()
					return
				default:
				}
				subject := fmt.Sprintf("m-%d-%d", w, n)
				body, rcpt := "hello\r\n", "alice@localhost"
				if n == 0 && w < 2 {
					body = big
				}
				if w == 3 { // bob's mail is expunged as it arrives
					body, rcpt = big, "bob@localhost"
					if n >= 4 { // enough to race with the backup; the search index reads each one, slowly under -race
						<-stop
						errs <- c.Quit()
						return
					}
				}
				if err := c.SendMail("sender@example.org", []string{rcpt}, strings.NewReader("Subject: "+subject+"\r\n\r\n"+body)); err != nil {
					errs <- fmt.Errorf("%s: %w", subject, err)
					return
				}
				if rcpt == "alice@localhost" {
					mu.Lock()
					acked = append(acked, subject)
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Add(1)
	go func() { // bob expunges everything, all the time
		defer wg.Done()
		ic, err := imapclient.DialTLS(env.GW.Addr("imaps"), &imapclient.Options{TLSConfig: env.TLSConfig()})
		if err != nil {
			errs <- err
			return
		}
		defer ic.Close()
		if err := ic.Login("bob@localhost", "pw-bob").Wait(); err != nil {
			errs <- err
			return
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		for {
			select {
			case <-stop:
				errs <- nil
				return
			default:
			}
			sel, err := ic.Select("INBOX", nil).Wait()
			if err != nil {
				errs <- err
				return
			}
			if sel.NumMessages == 0 {
				continue
			}
			if err := ic.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
				errs <- err
				return
			}
			if err := ic.Expunge().Close(); err != nil {
				errs <- err
				return
			}
		}
	}()
	waitFor := func(n int) {
		for {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
			select {
			case err := <-errs:
				t.Fatal(err)
			default:
			}
		}
	}
	waitFor(15)
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	backup := filepath.Join(t.TempDir(), "backup")
	r := run(t, "", nil, append(d, "backup", backup)...)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if r.code != 0 || !strings.Contains(r.stdout, "the copy is consistent") || !strings.Contains(r.stdout, "master key") {
		t.Fatalf("backup while serving: %+v", r)
	}
	wantError(t, run(t, "", nil, append(d, "backup", backup)...), "not empty")
	wantError(t, run(t, "", nil, append(d, "backup", env.Dir)...), "inside the data directory")
	wantError(t, run(t, "", nil, append(d, "backup", filepath.Join(env.Dir, "b"))...), "inside the data directory")

	newDir := filepath.Join(t.TempDir(), "restored")
	nd := []string{"--data", newDir}
	wantError(t, run(t, "", nil, append(d, "restore", backup)...), "already holds a store")
	if r := run(t, "", nil, append(nd, "restore", backup)...); r.code != 0 || !strings.Contains(r.stdout, "store is consistent") {
		t.Fatalf("restore: %+v", r)
	}
	if r := run(t, "", nil, append(nd, "check")...); r.code != 0 {
		t.Fatalf("check of the restored store: %+v", r)
	}
	if r := run(t, "", nil, append(nd, "keys", "export", "alice@localhost", "--pgp", "--secret")...); r.code != 0 || !strings.Contains(r.stdout, "PGP PRIVATE KEY BLOCK") {
		t.Fatalf("the restored secret key does not open: %+v", r)
	}

	restored := gatewaytest.StartIn(t, newDir)
	c, err := imapclient.DialTLS(restored.GW.Addr("imaps"), &imapclient.Options{TLSConfig: restored.TLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@localhost", "pw-alice").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0) // 1:*
	msgs, err := c.Fetch(all, &imap.FetchOptions{Envelope: true, RFC822Size: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]int64{}
	for _, m := range msgs {
		served[m.Envelope.Subject] = m.RFC822Size
	}
	for _, s := range before {
		if _, ok := served[s]; !ok {
			t.Errorf("%s was acknowledged before the backup began and is not in the restored store", s)
		}
	}
	if served["m-0-0"] < int64(len(big)) {
		t.Errorf("a large body (a file in blobs/) came back with %d bytes", served["m-0-0"])
	}
	t.Logf("%d messages acknowledged before the backup, %d in it", len(before), len(msgs))
}

// TestBackupMasterKeyKeptApart: a master key kept outside the data directory is not copied;
// restore needs that key and refuses another.
func TestBackupMasterKeyKeptApart(t *testing.T) {
	tmp := t.TempDir()
	keyFile := filepath.Join(tmp, "secret", "master.key")
	envKey := map[string]string{"SEALGATE_MASTER_KEY_FILE": keyFile}
	d := []string{"--data", filepath.Join(tmp, "data")}
	if r := run(t, "", envKey, append(d, "keys", "generate", "bob@localhost", "--pgp")...); r.code != 0 {
		t.Fatal(r)
	}
	wantError(t, run(t, "", envKey, append(d, "backup", filepath.Join(tmp, "b0"))...), "no mail store")
	if r := run(t, "pw\n", envKey, append(d, "user", "add", "bob@localhost", "--password-stdin")...); r.code != 0 {
		t.Fatal(r)
	}
	backup := filepath.Join(tmp, "backup")
	r := run(t, "", envKey, append(d, "backup", backup)...)
	if r.code != 0 || !strings.Contains(r.stdout, "NOT in the backup") {
		t.Fatalf("backup: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(backup, "master.key")); err == nil {
		t.Fatal("the master key kept apart was copied into the backup")
	}
	wantError(t, run(t, "", nil, "--data", filepath.Join(tmp, "n1"), "restore", backup), "does not carry its master key")
	other := map[string]string{"SEALGATE_MASTER_KEY_FILE": filepath.Join(tmp, "other.key")}
	run(t, "", other, "--data", filepath.Join(tmp, "scratch"), "keys", "list") // makes another key
	wantError(t, run(t, "", other, "--data", filepath.Join(tmp, "n2"), "restore", backup), "is not the one the backup was made with")
	if r := run(t, "", envKey, "--data", filepath.Join(tmp, "n3"), "restore", backup); r.code != 0 {
		t.Fatalf("restore with the right key: %+v", r)
	}
	if r := run(t, "", envKey, "--data", filepath.Join(tmp, "n3"), "keys", "export", "bob@localhost", "--pgp", "--secret"); r.code != 0 {
		t.Fatalf("secret key after restore: %+v", r)
	}
}

func TestBackupPostgresSaysPgDump(t *testing.T) {
	dir := dataDir(t, "[storage]\nbackend = \"postgres\"\ndsn = \"postgres://nobody@127.0.0.1:1/none\"\n")
	wantError(t, run(t, "", nil, "--data", dir, "backup", filepath.Join(t.TempDir(), "b")), "pg_dump")
}

// TestCheckFindsAWrongMasterKey: `sealgate check` reports sealed keys (TLS, DKIM) that the
// master key in use does not open, as after a restore with another key.
func TestCheckFindsAWrongMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := []string{"--data", dir}
	mustRun(t, "", append(d, "dkim", "generate", "localhost", "--selector", "s1")...)
	if r := run(t, "", nil, append(d, "check")...); r.code != 0 {
		t.Fatalf("check with the right key: %+v", r)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", nil, append(d, "check")...)
	wantError(t, r, "1 problems")
	if !strings.Contains(r.stdout, "the DKIM key of localhost does not open") {
		t.Fatalf("check with another master key: %+v", r)
	}
}
