package kafkaapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// Broker is a node that clients may connect to.
type Broker struct {
	ID   int32
	Host string
	Port int32
	Rack string
}

// PartitionInfo says who leads a partition and who replicates it.
type PartitionInfo struct {
	Leader      int32
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
}

// Cluster is all the server knows of the cluster: a single node and the
// replication package both implement it. Implementations must be safe for
// concurrent use.
type Cluster interface {
	// LocalID is this node's broker id.
	LocalID() int32
	// ClusterID names the cluster.
	ClusterID() string
	// ControllerID is the broker that handles topic administration.
	ControllerID() int32
	// Brokers lists the live brokers with their advertised addresses.
	Brokers() []Broker
	// Partition describes a partition of an existing topic.
	Partition(topic string, partition int32) PartitionInfo
	// Coordinator is the broker that coordinates a consumer group.
	Coordinator(group string) int32
}

// SingleNode is the Cluster of one node that leads every partition.
type SingleNode struct {
	Node Broker
	ID   string
	Log  *sluicelog.Log
}

func (s *SingleNode) LocalID() int32           { return s.Node.ID }
func (s *SingleNode) ClusterID() string        { return s.ID }
func (s *SingleNode) ControllerID() int32      { return s.Node.ID }
func (s *SingleNode) Brokers() []Broker        { return []Broker{s.Node} }
func (s *SingleNode) Coordinator(string) int32 { return s.Node.ID }
func (s *SingleNode) Partition(topic string, partition int32) PartitionInfo {
	epoch := int32(0)
	if st, err := s.Log.State(topic, partition); err == nil {
		epoch = st.LeaderEpoch
	}
	return PartitionInfo{Leader: s.Node.ID, LeaderEpoch: epoch, Replicas: []int32{s.Node.ID}, ISR: []int32{s.Node.ID}}
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// Logger receives connection and request errors. Default: slog.Default().
	Logger *slog.Logger
	// AutoCreateTopics creates unknown topics on Metadata (when the client
	// allows it) and Produce. Default: false.
	AutoCreateTopics bool
	// DefaultPartitions for auto-created topics and CreateTopics with -1.
	// Default: 1.
	DefaultPartitions int32
	// DefaultReplicationFactor likewise. Default: 1.
	DefaultReplicationFactor int16
	// MaxRequestBytes bounds one request; a larger one closes the
	// connection. Default: 100 MiB (Kafka's socket.request.max.bytes).
	MaxRequestBytes int32
	// IdleTimeout closes connections idle this long. Default: 10 minutes
	// (Kafka's connections.max.idle.ms).
	IdleTimeout time.Duration
	// MaxInFlight bounds the requests a connection has read but not yet
	// answered. Default: 16.
	MaxInFlight int
	// Coordinator handles the consumer-group APIs. Default: a new
	// coordinator over the log.
	Coordinator *Coordinator
}

// Server serves the Kafka protocol over a log. Create it with NewServer,
// run Serve on a listener, stop with Close.
type Server struct {
	log         *sluicelog.Log
	cluster     Cluster
	opts        Options
	logger      *slog.Logger
	groups      *Coordinator
	ownsGroups  bool
	producerIDs *producerIDs

	mu struct {
		sync.Mutex
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
		closed    bool
	}
	wg sync.WaitGroup
	// ctx is cancelled by Close; blocked handlers return.
	ctx    context.Context
	cancel context.CancelFunc
}

// NewServer makes a server over l for the cluster c.
func NewServer(l *sluicelog.Log, c Cluster, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.DefaultPartitions <= 0 {
		opts.DefaultPartitions = 1
	}
	if opts.DefaultReplicationFactor <= 0 {
		opts.DefaultReplicationFactor = 1
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = 100 << 20
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 10 * time.Minute
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 16
	}
	s := &Server{log: l, cluster: c, opts: opts, logger: opts.Logger, producerIDs: newProducerIDs(l)}
	s.groups = opts.Coordinator
	if s.groups == nil {
		s.groups = NewCoordinator(l, CoordinatorOptions{Logger: opts.Logger, InitialRebalanceDelay: 0})
		s.ownsGroups = true
	}
	s.mu.listeners = map[net.Listener]struct{}{}
	s.mu.conns = map[*conn]struct{}{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("kafka server closed")

// Serve accepts connections on ln until Close. It always returns an error;
// ErrServerClosed after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.mu.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger.Warn("kafka: accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("kafka: accept on %s: %w", ln.Addr(), err)
		}
		delay = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.mu.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.mu.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops accepting, closes every connection and waits for their
// handlers to return.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	for ln := range s.mu.listeners {
		ln.Close()
	}
	for c := range s.mu.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	if s.ownsGroups {
		s.groups.Close()
	}
	s.wg.Wait()
	return nil
}

// Connections returns the number of open client connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}
