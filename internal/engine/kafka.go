package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"github.com/sluice-cdc/sluice/configs"
	sluicelog "github.com/sluice-cdc/sluice/log"
	"github.com/sluice-cdc/sluice/log/kafkaapi"
)

// kafkaListener serves the Kafka wire API on node.kafka_listen.
type kafkaListener struct {
	cfg    *configs.Config
	log    *sluicelog.Log
	logger *slog.Logger

	srv  *kafkaapi.Server
	ln   net.Listener
	quit chan error

	mu   sync.Mutex
	addr string
}

func newKafkaListener(cfg *configs.Config, l *sluicelog.Log, logger *slog.Logger) *kafkaListener {
	return &kafkaListener{cfg: cfg, log: l, logger: logger, quit: make(chan error, 1)}
}

func (k *kafkaListener) name() string { return "kafka listener" }

func (k *kafkaListener) start(ctx context.Context) error {
	ln, err := net.Listen("tcp", k.cfg.Node.KafkaListen)
	if err != nil {
		return fmt.Errorf("kafka listener: cannot listen on %s (node.kafka_listen): %w; free the port or change node.kafka_listen", k.cfg.Node.KafkaListen, err)
	}
	adv, err := advertised(k.cfg.Node.KafkaAdvertise, ln.Addr().String())
	if err != nil {
		ln.Close()
		return fmt.Errorf("kafka listener: node.kafka_advertise: %w", err)
	}
	clusterID, err := clusterID(ctx, k.log)
	if err != nil {
		ln.Close()
		return fmt.Errorf("kafka listener: %w", err)
	}
	cluster := &kafkaapi.SingleNode{Node: adv, ID: clusterID, Log: k.log}
	cluster.Node.ID = int32(k.cfg.Node.ID)
	k.srv = kafkaapi.NewServer(k.log, cluster, kafkaapi.Options{
		Logger:                   k.logger,
		AutoCreateTopics:         k.cfg.Log.AutoCreateTopics,
		DefaultPartitions:        int32(k.cfg.Log.DefaultPartitions),
		DefaultReplicationFactor: int16(k.cfg.Log.DefaultReplicationFactor),
	})
	k.ln = ln
	k.mu.Lock()
	k.addr = ln.Addr().String()
	k.mu.Unlock()
	go func() {
		err := k.srv.Serve(ln)
		if errors.Is(err, kafkaapi.ErrServerClosed) {
			err = nil
		}
		k.quit <- err
	}()
	k.logger.Info("kafka API listening", "addr", k.addr, "advertised", net.JoinHostPort(adv.Host, strconv.Itoa(int(adv.Port))))
	return nil
}

func (k *kafkaListener) failed() <-chan error { return k.quit }

func (k *kafkaListener) stop(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		k.srv.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kafka listener: did not stop within the drain timeout: %w", ctx.Err())
	}
}

func (k *kafkaListener) boundAddr() string {
	if k == nil {
		return ""
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.addr
}

// advertised is the broker address clients are told: node.kafka_advertise
// when set, else the bound address with 127.0.0.1 for an unspecified host.
func advertised(setting, bound string) (kafkaapi.Broker, error) {
	addr := setting
	if addr == "" {
		addr = bound
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return kafkaapi.Broker{}, err
	}
	if setting == "" {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return kafkaapi.Broker{}, fmt.Errorf("bad port in %q", addr)
	}
	return kafkaapi.Broker{Host: host, Port: int32(p)}, nil
}

const clusterIDKey = "node/cluster-id"

// clusterID returns the id this data directory got at its first start.
func clusterID(ctx context.Context, l *sluicelog.Log) (string, error) {
	v, ok, err := l.Meta(clusterIDKey)
	if err != nil {
		return "", fmt.Errorf("read the cluster id: %w", err)
	}
	if ok {
		return string(v), nil
	}
	b := make([]byte, 16)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	if err := l.SetMeta(ctx, sluicelog.MetaEntry{Key: clusterIDKey, Value: []byte(id)}); err != nil {
		return "", fmt.Errorf("store the cluster id: %w", err)
	}
	return id, nil
}
