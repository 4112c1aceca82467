package wiretest

import (
	"io"
	"net/http"
	"testing"
)

// Get fetches url with the Host header host, as a client of that virtual host of the
// listener at url does, and returns the status, header and body. c nil is
// http.DefaultClient.
func Get(t testing.TB, c *http.Client, url, host string) (int, http.Header, []byte) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}
