package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
)

// smtpConn is an SMTP client session on plain TCP, after the greeting and EHLO.
type smtpConn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

// dialSMTP connects to addr, reads the greeting and says EHLO.
func dialSMTP(addr string) (*smtpConn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &smtpConn{nc: nc, r: bufio.NewReader(nc), w: bufio.NewWriterSize(nc, 1<<16)}
	if err := c.reply(); err != nil {
		nc.Close()
		return nil, err
	}
	if err := c.cmd("EHLO bench.test"); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// reply reads one reply, every line of it; a 4xx or 5xx reply is an error.
func (c *smtpConn) reply() error {
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return err
		}
		if len(l) < 4 || l[0] >= '4' {
			return fmt.Errorf("smtp: %s", strings.TrimSpace(l))
		}
		if l[3] == ' ' {
			return nil
		}
	}
}

// cmd sends the command line and reads its reply.
func (c *smtpConn) cmd(line string) error {
	fmt.Fprintf(c.w, "%s\r\n", line)
	c.w.Flush()
	return c.reply()
}

// quit says QUIT and closes the connection.
func (c *smtpConn) quit() error {
	defer c.nc.Close()
	return c.cmd("QUIT")
}
