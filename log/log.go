package log

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// FsyncMode says when appends reach stable storage.
type FsyncMode int

const (
	// FsyncAlways acknowledges an append only after its fsync; concurrent
	// appends share one fsync (group commit).
	FsyncAlways FsyncMode = iota
	// FsyncInterval acknowledges an append once it is written and fsyncs
	// every Options.FsyncInterval: a crash loses up to that much.
	FsyncInterval
)

// Options configure a Log. The zero value is a durable single-node log.
type Options struct {
	// Fsync selects the durability mode. Default: FsyncAlways.
	Fsync FsyncMode
	// FsyncInterval is the sync period under FsyncInterval. Default: 1s.
	FsyncInterval time.Duration
	// TopicDefaults are topic config values that override Kafka's defaults
	// for every topic of this node. Default: none.
	TopicDefaults map[string]string
	// Logger receives the log's messages. Default: slog.Default().
	Logger *slog.Logger
	// Metrics receives counters and timings. Default: none.
	Metrics Metrics
	// Now is the clock for timestamps, retention and compaction lag.
	// Default: time.Now.
	Now func() time.Time
	// ExternalHighWatermark leaves the high watermark to the caller
	// (replication sets it through SetHighWatermark). Default: false, the
	// high watermark follows the durable log end.
	ExternalHighWatermark bool
	// FS is the filesystem; tests inject faults through it. Default: the OS.
	FS vfs.FS
	// CacheSize is pebble's block cache in bytes. Default: 64 MiB.
	CacheSize int64
	// MemTableSize is pebble's memtable size in bytes. Default: 64 MiB.
	MemTableSize uint64
}

// Metrics receives the log's measurements. Implementations must be safe for
// concurrent use and must not block.
type Metrics interface {
	// Appended counts records and stored bytes appended to a topic.
	Appended(topic string, records, bytes int)
	// Synced observes how long an append waited for its fsync.
	Synced(d time.Duration)
	// Cleaned reports one cleaner pass over a partition: policy is
	// "retention" or "compaction".
	Cleaned(topic string, policy string, d time.Duration, removedBytes int64, err error)
}

type noMetrics struct{}

func (noMetrics) Appended(string, int, int)                           {}
func (noMetrics) Synced(time.Duration)                                {}
func (noMetrics) Cleaned(string, string, time.Duration, int64, error) {}

// Log is the embedded, durable, partitioned log. All methods are safe for
// concurrent use.
type Log struct {
	db      *pebble.DB
	opts    Options
	logger  *slog.Logger
	metrics Metrics
	now     func() time.Time

	// failed holds the first write or sync error; once set, the log
	// accepts no more writes.
	failed atomic.Pointer[error]
	closed atomic.Bool

	mu struct {
		sync.RWMutex
		topics      map[string]*topic
		nextTopicID uint32
	}
	// indexMu serialises EnableKeyIndex with CreatePartitions, so that no
	// partition appears while a topic's partitions are being indexed.
	// Take it before mu.
	indexMu sync.Mutex

	stopSync chan struct{}
	syncDone chan struct{}
}

// topic is a topic's in-memory state. name, id and parts never change after
// creation (partitions are only ever added by replacing the topic value).
type topic struct {
	name      string
	id        uint32
	parts     []*partition
	replicas  int16
	createdMs int64
	// keyIndex says appends maintain the topic's key index (keyindex.go).
	// It is shared by every value of the topic (CreatePartitions makes a
	// new one) and set once, by EnableKeyIndex, under the partitions'
	// locks.
	keyIndex *atomic.Bool
	deleted  atomic.Bool
	// cfg is the resolved config, replaced whole on AlterTopicConfig.
	cfg atomic.Pointer[topicCfg]
}

type topicCfg struct {
	resolved  TopicConfig
	overrides map[string]string
	effective map[string]string
}

// topicMeta is the stored form of a topic (JSON under its topic key).
type topicMeta struct {
	ID                uint32            `json:"id"`
	Name              string            `json:"name"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Config            map[string]string `json:"config,omitempty"`
	CreatedMs         int64             `json:"created_ms"`
	KeyIndex          bool              `json:"key_index,omitempty"`
}

// Open opens or creates the log in dir.
func Open(dir string, opts Options) (*Log, error) {
	if opts.FsyncInterval <= 0 {
		opts.FsyncInterval = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = noMetrics{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 64 << 20
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = 64 << 20
	}
	if _, _, err := resolveConfig(opts.TopicDefaults); err != nil {
		return nil, fmt.Errorf("log.topic_defaults: %w", err)
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                opts.MemTableSize,
		MemTableStopWritesThreshold: 4,
		// A log appends: every compaction rewrites data that will
		// never change. Letting L0 grow before compacting it, and a
		// larger base level, halve that rewriting.
		L0CompactionThreshold: 12,
		L0StopWritesThreshold: 48,
		LBaseMaxBytes:         512 << 20,
		MaxOpenFiles:          1000,
		Logger:                pebbleLogger{opts.Logger},
		FS:                    opts.FS,
		// Appends are heavy writes: let a second compaction run when L0
		// backs up, rather than stalling writers behind one.
		CompactionConcurrencyRange: func() (int, int) { return 1, 2 },
		// Flushes write L0 uncompressed: its data is compacted into
		// L1 soon, compressed there, and snappy at flush time was an
		// eighth of a durable snapshot's CPU.
		Levels: [7]pebble.LevelOptions{
			0: {Compression: func() *sstable.CompressionProfile { return sstable.NoCompression }},
			1: {Compression: func() *sstable.CompressionProfile { return sstable.SnappyCompression }},
		},
		EventListener: &pebble.EventListener{
			WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
				opts.Logger.Debug("log: pebble write stall", "reason", info.Reason)
			},
		},
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("open log in %s: %w", dir, err)
	}
	l := &Log{db: db, opts: opts, logger: opts.Logger, metrics: opts.Metrics, now: opts.Now}
	l.mu.topics = make(map[string]*topic)
	if err := l.load(); err != nil {
		db.Close()
		return nil, err
	}
	if opts.Fsync == FsyncInterval {
		l.stopSync = make(chan struct{})
		l.syncDone = make(chan struct{})
		go l.syncLoop()
	}
	return l, nil
}

// load checks the format version and loads every topic and partition.
func (l *Log) load() error {
	v, closer, err := l.db.Get(formatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		if err := l.db.Set(formatKey, []byte(formatVersion), pebble.Sync); err != nil {
			return fmt.Errorf("write log format version: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read log format version: %w", err)
	default:
		got := string(v)
		closer.Close()
		if got != formatVersion {
			return fmt.Errorf("log data format %q is not %q: this data directory was written by another version of sluice", got, formatVersion)
		}
	}
	iter, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixTopic}, UpperBound: []byte{prefixTopic + 1}})
	if err != nil {
		return err
	}
	defer iter.Close()
	for iter.First(); iter.Valid(); iter.Next() {
		var m topicMeta
		if err := json.Unmarshal(iter.Value(), &m); err != nil {
			return fmt.Errorf("%w: topic record %q: %v", ErrCorrupt, iter.Key()[1:], err)
		}
		t, err := l.newTopic(m)
		if err != nil {
			return err
		}
		for _, p := range t.parts {
			if err := p.load(); err != nil {
				return err
			}
		}
		l.mu.topics[m.Name] = t
		if m.ID >= l.mu.nextTopicID {
			l.mu.nextTopicID = m.ID + 1
		}
	}
	return iter.Error()
}

func (l *Log) newTopic(m topicMeta) (*topic, error) {
	resolved, eff, err := resolveConfig(l.opts.TopicDefaults, m.Config)
	if err != nil {
		return nil, fmt.Errorf("topic %q: %w", m.Name, err)
	}
	t := &topic{name: m.Name, id: m.ID, replicas: m.ReplicationFactor, createdMs: m.CreatedMs, keyIndex: new(atomic.Bool)}
	t.keyIndex.Store(m.KeyIndex)
	t.cfg.Store(&topicCfg{resolved: resolved, overrides: m.Config, effective: eff})
	for i := int32(0); i < m.Partitions; i++ {
		t.parts = append(t.parts, newPartition(l, t, i))
	}
	return t, nil
}

// Close stops background work and closes the store. Appends in flight
// finish or fail first.
func (l *Log) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	if l.stopSync != nil {
		close(l.stopSync)
		<-l.syncDone
	}
	// Take every partition lock so no append is between apply and sync.
	l.mu.Lock()
	for _, t := range l.mu.topics {
		for _, p := range t.parts {
			p.mu.Lock()
			p.cleanMu.Lock()
			p.cleanMu.Unlock()
			p.mu.Unlock()
		}
	}
	l.mu.Unlock()
	if l.failed.Load() != nil {
		// pebble cannot flush after a WAL failure; the WAL on disk is
		// what a reopen recovers.
		return l.closeFailed()
	}
	if err := l.db.Flush(); err != nil {
		l.logger.Warn("log: flush on close failed", "err", err)
	}
	return l.db.Close()
}

// closeFailed closes pebble after a write failure, when it may panic.
func (l *Log) closeFailed() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: close after failure: %v", ErrFailed, r)
		}
	}()
	return l.db.Close()
}

func (l *Log) syncLoop() {
	defer close(l.syncDone)
	t := time.NewTicker(l.opts.FsyncInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stopSync:
			l.syncNow()
			return
		case <-t.C:
			l.syncNow()
		}
	}
}

// syncNow fsyncs the write-ahead log.
func (l *Log) syncNow() {
	if l.failed.Load() != nil {
		return
	}
	start := time.Now()
	if err := l.db.LogData(nil, pebble.Sync); err != nil {
		l.fail(fmt.Errorf("fsync: %w", err))
		return
	}
	l.metrics.Synced(time.Since(start))
}

// fail records the first write error; afterwards every write fails.
func (l *Log) fail(err error) error {
	wrapped := fmt.Errorf("%w: %w", ErrFailed, err)
	if l.failed.CompareAndSwap(nil, &wrapped) {
		l.logger.Error("log: write failed; refusing further writes until restart", "err", err)
	}
	return *l.failed.Load()
}

// writable returns why the log cannot take writes, or nil.
func (l *Log) writable() error {
	if l.closed.Load() {
		return ErrClosed
	}
	if e := l.failed.Load(); e != nil {
		return *e
	}
	return nil
}

var topicNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// ValidTopicName reports whether name is a legal Kafka topic name.
func ValidTopicName(name string) error {
	if !topicNameRE.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("%w: topic name %q must be 1 to 249 of [A-Za-z0-9._-] and not \".\" or \"..\"", ErrInvalidTopic, name)
	}
	return nil
}

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	// Config holds Kafka topic config overrides.
	Config map[string]string
	// KeyIndex keeps an index of every key's latest record, for Latest.
	// It costs a pebble entry per appended record with a key. An existing
	// topic gets one with EnableKeyIndex. Default: false.
	KeyIndex bool
}

// TopicInfo describes an existing topic.
type TopicInfo struct {
	Name              string
	ID                uint32
	Partitions        int32
	ReplicationFactor int16
	CreatedMs         int64
	// Config is the resolved config.
	Config TopicConfig
	// Overrides are the topic's own config entries.
	Overrides map[string]string
	// Effective holds every config key with its value in force.
	Effective map[string]string
	// KeyIndex says the topic keeps a key index (Latest).
	KeyIndex bool
}

// CreateTopic creates a topic durably.
func (l *Log) CreateTopic(spec TopicSpec) (TopicInfo, error) {
	if err := l.writable(); err != nil {
		return TopicInfo{}, err
	}
	if err := ValidTopicName(spec.Name); err != nil {
		return TopicInfo{}, err
	}
	if spec.Partitions < 1 || spec.Partitions > 100000 {
		return TopicInfo{}, fmt.Errorf("%w: topic %q: partitions must be from 1 to 100000, got %d", ErrInvalidTopic, spec.Name, spec.Partitions)
	}
	if spec.ReplicationFactor < 1 {
		spec.ReplicationFactor = 1
	}
	if err := ValidateTopicConfig(spec.Config); err != nil {
		return TopicInfo{}, fmt.Errorf("topic %q: %w", spec.Name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.mu.topics[spec.Name]; ok {
		return TopicInfo{}, fmt.Errorf("%w: %q", ErrTopicExists, spec.Name)
	}
	m := topicMeta{
		ID: l.mu.nextTopicID, Name: spec.Name, Partitions: spec.Partitions,
		ReplicationFactor: spec.ReplicationFactor, Config: cloneMap(spec.Config),
		CreatedMs: l.now().UnixMilli(), KeyIndex: spec.KeyIndex,
	}
	t, err := l.newTopic(m)
	if err != nil {
		return TopicInfo{}, err
	}
	b := l.db.NewBatch()
	defer b.Close()
	if err := l.putTopicMeta(b, m); err != nil {
		return TopicInfo{}, err
	}
	now := l.now().UnixMilli()
	for _, p := range t.parts {
		p.initEmpty(b, now)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return TopicInfo{}, l.fail(fmt.Errorf("create topic %q: %w", spec.Name, err))
	}
	l.mu.nextTopicID++
	l.mu.topics[spec.Name] = t
	l.logger.Info("log: topic created", "topic", spec.Name, "partitions", spec.Partitions, "config", spec.Config)
	return t.info(), nil
}

func (l *Log) putTopicMeta(b *pebble.Batch, m topicMeta) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return b.Set(topicKey(m.Name), v, nil)
}

// DeleteTopic removes a topic, its records and its committed group offsets.
func (l *Log) DeleteTopic(name string) error {
	if err := l.writable(); err != nil {
		return err
	}
	l.mu.Lock()
	t, ok := l.mu.topics[name]
	if !ok {
		l.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	delete(l.mu.topics, name)
	l.mu.Unlock()
	t.deleted.Store(true)
	// Wait for appends and cleaning in progress.
	for _, p := range t.parts {
		p.cleanMu.Lock()
		p.mu.Lock()
	}
	defer func() {
		for _, p := range t.parts {
			p.mu.Unlock()
			p.cleanMu.Unlock()
		}
	}()
	b := l.db.NewBatch()
	defer b.Close()
	_ = b.Delete(topicKey(name), nil)
	for _, prefix := range []byte{prefixBatch, prefixPartition, prefixSegment, prefixEpoch, prefixProducer, prefixKeyIndex} {
		s, e := topicSpan(prefix, t.id)
		_ = b.DeleteRange(s, e, nil)
	}
	if err := l.deleteGroupOffsetsOf(b, name); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return l.fail(fmt.Errorf("delete topic %q: %w", name, err))
	}
	for _, p := range t.parts {
		p.wake()
	}
	l.logger.Info("log: topic deleted", "topic", name)
	return nil
}

// Topics lists every topic, sorted by name.
func (l *Log) Topics() []TopicInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]TopicInfo, 0, len(l.mu.topics))
	for _, t := range l.mu.topics {
		out = append(out, t.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Topic describes one topic.
func (l *Log) Topic(name string) (TopicInfo, error) {
	t, err := l.topic(name)
	if err != nil {
		return TopicInfo{}, err
	}
	return t.info(), nil
}

func (l *Log) topic(name string) (*topic, error) {
	l.mu.RLock()
	t, ok := l.mu.topics[name]
	l.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: topic %q", ErrUnknownTopic, name)
	}
	return t, nil
}

func (l *Log) partition(name string, part int32) (*partition, error) {
	t, err := l.topic(name)
	if err != nil {
		return nil, err
	}
	if part < 0 || int(part) >= len(t.parts) {
		return nil, fmt.Errorf("%w: topic %q has no partition %d (it has %d)", ErrUnknownTopic, name, part, len(t.parts))
	}
	return t.parts[part], nil
}

// AlterTopicConfig sets and deletes topic config overrides.
func (l *Log) AlterTopicConfig(name string, set map[string]string, del []string) error {
	if err := l.writable(); err != nil {
		return err
	}
	if err := ValidateTopicConfig(set); err != nil {
		return fmt.Errorf("topic %q: %w", name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.mu.topics[name]
	if !ok {
		return fmt.Errorf("%w: topic %q", ErrUnknownTopic, name)
	}
	over := cloneMap(t.cfg.Load().overrides)
	if over == nil {
		over = map[string]string{}
	}
	for _, k := range del {
		delete(over, k)
	}
	for k, v := range set {
		over[k] = v
	}
	resolved, eff, err := resolveConfig(l.opts.TopicDefaults, over)
	if err != nil {
		return fmt.Errorf("topic %q: %w", name, err)
	}
	m := topicMeta{ID: t.id, Name: t.name, Partitions: int32(len(t.parts)), ReplicationFactor: t.replicas, Config: over, CreatedMs: t.createdMs, KeyIndex: t.keyIndex.Load()}
	b := l.db.NewBatch()
	defer b.Close()
	if err := l.putTopicMeta(b, m); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return l.fail(fmt.Errorf("alter topic %q: %w", name, err))
	}
	t.cfg.Store(&topicCfg{resolved: resolved, overrides: over, effective: eff})
	return nil
}

// CreatePartitions grows a topic to total partitions.
func (l *Log) CreatePartitions(name string, total int32) error {
	if err := l.writable(); err != nil {
		return err
	}
	l.indexMu.Lock()
	defer l.indexMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.mu.topics[name]
	if !ok {
		return fmt.Errorf("%w: topic %q", ErrUnknownTopic, name)
	}
	if int(total) <= len(t.parts) || total > 100000 {
		return fmt.Errorf("%w: topic %q has %d partitions; the new count must be larger (and at most 100000), got %d", ErrInvalidTopic, name, len(t.parts), total)
	}
	m := topicMeta{ID: t.id, Name: t.name, Partitions: total, ReplicationFactor: t.replicas, Config: t.cfg.Load().overrides, CreatedMs: t.createdMs, KeyIndex: t.keyIndex.Load()}
	nt := &topic{name: t.name, id: t.id, replicas: t.replicas, createdMs: t.createdMs, keyIndex: t.keyIndex}
	nt.cfg.Store(t.cfg.Load())
	nt.parts = append([]*partition(nil), t.parts...)
	b := l.db.NewBatch()
	defer b.Close()
	now := l.now().UnixMilli()
	for i := int32(len(t.parts)); i < total; i++ {
		p := newPartition(l, nt, i)
		p.initEmpty(b, now)
		nt.parts = append(nt.parts, p)
	}
	for _, p := range t.parts {
		p.topic.Store(nt)
	}
	if err := l.putTopicMeta(b, m); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return l.fail(fmt.Errorf("create partitions of %q: %w", name, err))
	}
	l.mu.topics[name] = nt
	return nil
}

func (t *topic) info() TopicInfo {
	c := t.cfg.Load()
	return TopicInfo{
		Name: t.name, ID: t.id, Partitions: int32(len(t.parts)), ReplicationFactor: t.replicas,
		CreatedMs: t.createdMs, Config: c.resolved, Overrides: cloneMap(c.overrides), Effective: cloneMap(c.effective),
		KeyIndex: t.keyIndex.Load(),
	}
}

// Meta returns a caller metadata entry written with Append's Write.Meta.
func (l *Log) Meta(key string) ([]byte, bool, error) {
	v, closer, err := l.db.Get(metaKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// MetaPrefix returns every metadata entry whose key starts with prefix.
func (l *Log) MetaPrefix(prefix string) (map[string][]byte, error) {
	lo := metaKey(prefix)
	iter, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	out := map[string][]byte{}
	for iter.First(); iter.Valid(); iter.Next() {
		out[string(iter.Key()[1:])] = append([]byte(nil), iter.Value()...)
	}
	return out, iter.Error()
}

// SetMeta writes metadata entries durably on their own (a nil value
// deletes the entry).
func (l *Log) SetMeta(ctx context.Context, entries ...MetaEntry) error {
	_, err := l.Append(ctx, Write{Meta: entries})
	return err
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// pebbleLogger sends pebble's messages to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic(msg)
}
