package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealgate/sealgate/gateway/gatewaytest"
)

// TestAcceptSurvivesFileDescriptorExhaustion fills the process's file descriptor table, has
// a helper process connect to every listener (SMTP, IMAP, POP3, HTTP) so each Accept fails
// with EMFILE, and then frees the descriptors: every listener must go on to serve its
// waiting client, and the gateway must not have stopped.
func TestAcceptSurvivesFileDescriptorExhaustion(t *testing.T) {
	env := gatewaytest.Start(t)
	names := []string{"smtp", "imap", "pop3", "http"}
	var addrs []string
	for _, n := range names {
		addrs = append(addrs, n+"="+env.GW.Addr(n))
	}
	// The helper is this test binary; it connects when told, so this process needs no
	// descriptor for the client side.
	helper := exec.Command(os.Args[0], "-test.run=^TestFDExhaustionClient$")
	helper.Env = append(os.Environ(), "SEALGATE_FD_CLIENT="+strings.Join(addrs, ","))
	stdin, err := helper.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	out := bufio.NewReader(stdout)

	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := orig
	low.Cur = uint64(len(fds) + 32)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var hold []*os.File
	release := func() {
		for _, f := range hold {
			f.Close()
		}
		hold = nil
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig)
	}
	defer release()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !strings.Contains(err.Error(), "too many open files") {
				t.Fatalf("filling the descriptor table: %v", err)
			}
			break
		}
		hold = append(hold, f)
	}

	io.WriteString(stdin, "connect\n")
	// Wait until every listener has failed to accept its client for want of descriptors.
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range names {
		for !containsAll(env.Log.String(), "accept failed", "listener="+n+" ") {
			select {
			case err := <-env.GW.Errors():
				release()
				t.Fatalf("the gateway stopped: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				release()
				t.Fatalf("listener %s never failed to accept; log:\n%s", n, env.Log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	release()

	got := map[string]string{}
	for range names {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("helper: %v (so far %v)", err, got)
		}
		name, reply, _ := strings.Cut(strings.TrimSpace(line), ": ")
		got[name] = reply
	}
	for n, prefix := range map[string]string{"smtp": "220 ", "imap": "* OK", "pop3": "+OK", "http": "HTTP/1.0 200"} {
		if !strings.HasPrefix(got[n], prefix) {
			t.Errorf("%s after descriptors freed: %q, want %q…", n, got[n], prefix)
		}
	}
	select {
	case err := <-env.GW.Errors():
		t.Fatalf("the gateway stopped: %v", err)
	default:
	}
	// And new connections are served as before.
	for _, n := range []string{"smtp", "imap", "pop3"} {
		dialFrom(t, "127.0.0.1", env.GW.Addr(n)).Close()
	}
}

func containsAll(s string, parts ...string) bool {
	for _, l := range strings.Split(s, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestFDExhaustionClient is the helper process of TestAcceptSurvivesFileDescriptorExhaustion.
func TestFDExhaustionClient(t *testing.T) {
	spec := os.Getenv("SEALGATE_FD_CLIENT")
	if spec == "" {
		t.Skip("helper process only")
	}
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		os.Exit(2)
	}
	type client struct {
		name string
		c    net.Conn
	}
	var cs []client
	for _, kv := range strings.Split(spec, ",") {
		name, addr, _ := strings.Cut(kv, "=")
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			fmt.Printf("%s: dial: %v\n", name, err)
			continue
		}
		c.SetDeadline(time.Now().Add(90 * time.Second))
		if name == "http" {
			io.WriteString(c, "GET /healthz HTTP/1.0\r\n\r\n")
		}
		cs = append(cs, client{name, c})
	}
	for _, c := range cs {
		line, err := bufio.NewReader(c.c).ReadString('\n')
		if err != nil {
			fmt.Printf("%s: read: %v\n", c.name, err)
			continue
		}
		fmt.Printf("%s: %s\n", c.name, strings.TrimSpace(line))
	}
	os.Exit(0)
}
