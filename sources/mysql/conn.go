package mysql

import (
	"context"
	"net"
	"sync/atomic"
	"time"
)

// timeoutDialer returns a dialer whose connections fail a read or write
// that waits longer than timeout: a server that stops answering (a lost
// route) must not hold a query, the handshake or the binlog stream
// forever.
//
// go-mysql's own ReadTimeout sets a deadline before every packet, which
// costs a timer update per row: a tenth of a snapshot's CPU. The
// connections here move their deadline only once a quarter of timeout has
// passed, so a read or write waits between 3/4 timeout and timeout.
func timeoutDialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &deadlineConn{Conn: c, timeout: timeout}, nil
	}
}

// deadlineConn is a net.Conn with lazily renewed read and write deadlines.
// The times of the last renewals are atomic because go-mysql sets a read
// deadline from another goroutine to interrupt a blocked stream.
type deadlineConn struct {
	net.Conn
	timeout        time.Duration
	readSet, wrSet atomic.Int64 // unix nanoseconds when each deadline last moved
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if now := time.Now(); now.UnixNano()-c.readSet.Load() > int64(c.timeout/4) {
		if err := c.Conn.SetReadDeadline(now.Add(c.timeout)); err != nil {
			return 0, err
		}
		c.readSet.Store(now.UnixNano())
	}
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if now := time.Now(); now.UnixNano()-c.wrSet.Load() > int64(c.timeout/4) {
		if err := c.Conn.SetWriteDeadline(now.Add(c.timeout)); err != nil {
			return 0, err
		}
		c.wrSet.Store(now.UnixNano())
	}
	return c.Conn.Write(p)
}

// SetReadDeadline and SetWriteDeadline hold off the lazy renewal for a
// quarter of timeout, so that a caller's own deadline (go-mysql sets a
// short one to interrupt a stream it closes) takes effect.
func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.readSet.Store(time.Now().UnixNano())
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.wrSet.Store(time.Now().UnixNano())
	return c.Conn.SetWriteDeadline(t)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	now := time.Now().UnixNano()
	c.readSet.Store(now)
	c.wrSet.Store(now)
	return c.Conn.SetDeadline(t)
}
