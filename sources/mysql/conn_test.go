package mysql

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestDeadlineConn: a silent peer fails a read with a timeout; a peer
// that keeps sending for many timeouts does not (the deadline moves); a
// deadline set from another goroutine interrupts a blocked read.
func TestDeadlineConn(t *testing.T) {
	const timeout = 400 * time.Millisecond
	pipe := func() (*deadlineConn, net.Conn) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return &deadlineConn{Conn: a, timeout: timeout}, b
	}

	c, _ := pipe()
	buf := make([]byte, 16)
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read from a silent peer: %v, want a timeout", err)
	}

	c, peer := pipe()
	go func() {
		for range 30 { // 1.5 s, almost 4 timeouts
			if _, err := peer.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		peer.Close()
	}()
	n := 0
	for {
		k, err := c.Read(buf)
		n += k
		if err != nil {
			if n != 30 {
				t.Fatalf("steady reads stopped after %d bytes: %v", n, err)
			}
			break
		}
	}

	c, _ = pipe()
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.SetReadDeadline(time.Now())
	}()
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read interrupted by a deadline: %v", err)
	}
	// A write to a peer that does not read fails too.
	c, _ = pipe()
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a peer that does not read: %v, want a timeout", err)
	}
}
