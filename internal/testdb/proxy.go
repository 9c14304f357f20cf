package testdb

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a server until cut, for tests of
// network faults.
type Proxy struct {
	l      net.Listener
	target string
	mu     struct {
		sync.Mutex
		cut   bool // refuse new connections, drop the open ones
		hole  bool // with cut: keep connections open but forward nothing
		conns []net.Conn
	}
}

// StartProxy listens on a free port of 127.0.0.1 and forwards every
// connection to target; it stops when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{l: l, target: target}
	t.Cleanup(func() {
		l.Close()
		p.closeAll()
	})
	go p.accept()
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut, hole := p.mu.cut, p.mu.hole
		if cut && !hole {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.conns = append(p.mu.conns, c)
		p.mu.Unlock()
		if hole {
			continue // accepted, never answered
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.mu.conns = append(p.mu.conns, s)
		p.mu.Unlock()
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

// pipe copies from src to dst, unless the network is a black hole: then
// it reads and drops.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			hole := p.mu.hole
			p.mu.Unlock()
			if !hole {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					src.Close()
					return
				}
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	conns := p.mu.conns
	p.mu.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Cut breaks the network: with hole, connections stay open and silent (a
// lost route); without, they are reset and new ones refused.
func (p *Proxy) Cut(hole bool) {
	p.mu.Lock()
	p.mu.cut, p.mu.hole = true, hole
	p.mu.Unlock()
	if !hole {
		p.closeAll()
	}
}

// Restore mends the network; connections left from a black hole are
// closed, as a peer's kernel would reset them once the route is back.
func (p *Proxy) Restore() {
	p.mu.Lock()
	hole := p.mu.hole
	p.mu.cut, p.mu.hole = false, false
	p.mu.Unlock()
	if hole {
		p.closeAll()
	}
}
