package kafkaapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// conn is one client connection. A reader goroutine decodes requests and
// handles them in arrival order; each handler returns a reply function that
// a writer goroutine calls, in the same order, to get the response to send.
// Produce handlers assign offsets in the reader (so pipelined produce
// requests keep their order) and wait for the fsync in the reply function
// (so they share fsyncs).
type conn struct {
	s      *Server
	nc     net.Conn
	remote string
	ctx    context.Context
	cancel context.CancelFunc
	out    chan pending
}

// pending is a request whose response the writer sends once reply returns.
type pending struct {
	corrID   int32
	key      int16
	flexible bool
	// reply returns the response, or nil when none is sent (acks=0).
	reply func() kmsg.Response
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, out: make(chan pending, s.opts.MaxInFlight)}
	if host, _, err := net.SplitHostPort(nc.RemoteAddr().String()); err == nil {
		c.remote = host
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	return c
}

// requestHeader is Kafka's request header v1/v2.
type requestHeader struct {
	key, version int16
	corrID       int32
	clientID     string
}

var errProtocol = errors.New("malformed request")

func (c *conn) serve() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.writeLoop()
	}()
	err := c.readLoop()
	c.cancel()
	close(c.out)
	<-done
	c.nc.Close()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		c.s.logger.Warn("kafka: closing connection", "remote", c.nc.RemoteAddr().String(), "err", err)
	}
}

func isReset(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *conn) readLoop() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("request handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		c.nc.SetReadDeadline(time.Now().Add(c.s.opts.IdleTimeout))
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > c.s.opts.MaxRequestBytes {
			return fmt.Errorf("%w: request of %d bytes (the limit is %d)", errProtocol, size, c.s.opts.MaxRequestBytes)
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(br, body); err != nil {
			return fmt.Errorf("%w: truncated request: %v", errProtocol, err)
		}
		p, err := c.decodeAndHandle(body)
		if err != nil {
			return err
		}
		select {
		case c.out <- p:
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
	}
}

// decodeAndHandle parses one request and runs its handler.
func (c *conn) decodeAndHandle(body []byte) (pending, error) {
	h, rest, err := parseHeader(body)
	if err != nil {
		return pending{}, err
	}
	req := kmsg.RequestForKey(h.key)
	if req == nil {
		return pending{}, fmt.Errorf("%w: unknown API key %d", errProtocol, h.key)
	}
	vr, supported := apiVersions[h.key]
	if h.key == apiKeyApiVersions && (h.version < 0 || h.version > vr.max) {
		// Answer in v0 so any client can read the versions we have.
		resp := apiVersionsResponse(0)
		resp.ErrorCode = errUnsupportedVersion
		return pending{corrID: h.corrID, key: h.key, reply: func() kmsg.Response { return resp }}, nil
	}
	if !supported || h.version < vr.min || h.version > vr.max {
		return pending{}, fmt.Errorf("%w: %s version %d is not supported (supported: %d to %d)", errProtocol, kmsg.NameForKey(h.key), h.version, vr.min, vr.max)
	}
	req.SetVersion(h.version)
	if req.IsFlexible() {
		if rest, err = skipTags(rest); err != nil {
			return pending{}, err
		}
	}
	if err := req.ReadFrom(rest); err != nil {
		return pending{}, fmt.Errorf("%w: %s v%d: %v", errProtocol, kmsg.NameForKey(h.key), h.version, err)
	}
	reply := c.s.handle(c, h, req)
	return pending{corrID: h.corrID, key: h.key, flexible: req.IsFlexible(), reply: reply}, nil
}

func parseHeader(b []byte) (requestHeader, []byte, error) {
	if len(b) < 10 {
		return requestHeader{}, nil, fmt.Errorf("%w: header of %d bytes", errProtocol, len(b))
	}
	h := requestHeader{
		key:     int16(binary.BigEndian.Uint16(b)),
		version: int16(binary.BigEndian.Uint16(b[2:])),
		corrID:  int32(binary.BigEndian.Uint32(b[4:])),
	}
	n := int16(binary.BigEndian.Uint16(b[8:]))
	b = b[10:]
	if n > 0 {
		if int(n) > len(b) {
			return h, nil, fmt.Errorf("%w: client id of %d bytes in %d", errProtocol, n, len(b))
		}
		h.clientID = string(b[:n])
		b = b[n:]
	}
	return h, b, nil
}

// skipTags skips a tagged-field section (KIP-482).
func skipTags(b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad tagged fields", errProtocol)
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		_, k = binary.Uvarint(b) // tag
		if k <= 0 {
			return nil, fmt.Errorf("%w: bad tag", errProtocol)
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || size > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: bad tag size", errProtocol)
		}
		b = b[k+int(size):]
	}
	return b, nil
}

func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	broken := false
	buf := make([]byte, 0, 64<<10)
	for p := range c.out {
		resp := c.reply(p)
		if resp == nil || broken {
			continue
		}
		buf = append(buf[:0], 0, 0, 0, 0)
		buf = binary.BigEndian.AppendUint32(buf, uint32(p.corrID))
		if p.flexible && p.key != apiKeyApiVersions {
			buf = append(buf, 0) // response header v1: no tagged fields
		}
		buf = resp.AppendTo(buf)
		binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
		c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := bw.Write(buf); err != nil {
			broken = true
			c.cancel()
			continue
		}
		if len(c.out) == 0 {
			if err := bw.Flush(); err != nil {
				broken = true
				c.cancel()
			}
		}
		if cap(buf) > 8<<20 {
			buf = make([]byte, 0, 64<<10)
		}
	}
	if !broken {
		bw.Flush()
	}
}

// reply runs a pending reply, turning a panic into a closed connection.
func (c *conn) reply(p pending) (resp kmsg.Response) {
	defer func() {
		if r := recover(); r != nil {
			c.s.logger.Error("kafka: response handler panicked", "api", kmsg.NameForKey(p.key), "panic", r, "stack", string(debug.Stack()))
			resp = nil
			c.cancel()
			c.nc.Close()
		}
	}()
	return p.reply()
}
