package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// logDir is where a node keeps its log inside node.data_dir. The engine and
// the debug commands agree on it, so "sluice debug dump --data-dir ./data"
// reads what "sluice run" wrote (while the daemon is stopped).
func logDir(dataDir string) string { return filepath.Join(dataDir, "log") }

func debugCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "debug",
		Short:  "Developer tools that open the log directly, without a daemon",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	cmd.AddCommand(debugAppendCmd(g), debugDumpCmd(g))
	return cmd
}

// appendFlags are the flags of "sluice debug append".
type appendFlags struct {
	dataDir    string
	topic      string
	partitions int32
	records    int64
	batch      int
	valueBytes int
	fsync      string
	startSeq   int64
}

func debugAppendCmd(g *globals) *cobra.Command {
	var f appendFlags
	cmd := &cobra.Command{
		Use:   "append --data-dir DIR --topic TOPIC",
		Short: "Append numbered records to a topic and print each acknowledgement",
		Long: `Append opens the log in DIR/log (the layout of node.data_dir), creates the
topic if it is missing, and appends --records records in batches of --batch,
one partition per batch in turn. Record number seq has key "<seq>" and a JSON
value {"seq":<seq>,"pad":"..."} of --value-bytes bytes whose padding is derived
from seq. After each acknowledged (durable) append it prints and flushes

  ack <partition> <baseOffset> <lastOffset> <firstSeq> <lastSeq>

Numbering continues after the records already in the topic, so repeated runs
on one directory never reuse a number. Crash tests kill -9 this command and
check that every acknowledged record survived exactly once.`,
		Args: cobra.NoArgs,
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			return debugAppend(cmd.Context(), g, f)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "the node's data directory (the log is in DIR/log); required")
	fl.StringVar(&f.topic, "topic", "", "topic to append to; created if missing; required")
	fl.Int32Var(&f.partitions, "partitions", 1, "partitions of the topic when it is created")
	fl.Int64Var(&f.records, "records", 1000, "records to append")
	fl.IntVar(&f.batch, "batch", 100, "records per append")
	fl.IntVar(&f.valueBytes, "value-bytes", 100, "size of each record value in bytes (at least the JSON without padding)")
	fl.StringVar(&f.fsync, "fsync", "always", "always (acknowledge after fsync) or interval (fsync every second)")
	fl.Int64Var(&f.startSeq, "start-seq", -1, "number of the first record; -1 continues after the records already in the topic")
	return cmd
}

func debugAppend(ctx context.Context, g *globals, f appendFlags) error {
	if f.dataDir == "" || f.topic == "" {
		return usageError("debug append: --data-dir and --topic are required")
	}
	if f.partitions < 1 || f.records < 0 || f.batch < 1 || f.valueBytes < 0 {
		return usageError("debug append: --partitions and --batch must be at least 1, --records and --value-bytes at least 0")
	}
	var mode sluicelog.FsyncMode
	switch f.fsync {
	case "always":
		mode = sluicelog.FsyncAlways
	case "interval":
		mode = sluicelog.FsyncInterval
	default:
		return usageError("debug append: --fsync %q: must be always or interval", f.fsync)
	}
	logger, err := g.logger()
	if err != nil {
		return err
	}
	l, err := sluicelog.Open(logDir(f.dataDir), sluicelog.Options{Fsync: mode, Logger: logger})
	if err != nil {
		return fmt.Errorf("%w; check --data-dir, and that no sluice process is using it", err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			logger.Error("debug append: closing the log failed", "err", err)
		}
	}()

	info, err := l.Topic(f.topic)
	if errors.Is(err, sluicelog.ErrUnknownTopic) {
		info, err = l.CreateTopic(sluicelog.TopicSpec{Name: f.topic, Partitions: f.partitions, ReplicationFactor: 1})
	}
	if err != nil {
		return fmt.Errorf("topic %q: %w", f.topic, err)
	}
	seq := f.startSeq
	if seq < 0 {
		// Every record ever appended took one offset, so the sum of the
		// log end offsets is the number of records written before.
		seq = 0
		for _, s := range l.States() {
			if s.Topic == f.topic {
				seq += s.LogEndOffset
			}
		}
	}

	out := bufio.NewWriter(g.stdout)
	start := time.Now()
	var appended int64
	recs := make([]sluicelog.Record, 0, f.batch)
	for k := 0; appended < f.records; k++ {
		if ctx.Err() != nil {
			break
		}
		n := min(int64(f.batch), f.records-appended)
		recs = recs[:0]
		for i := range n {
			s := seq + i
			recs = append(recs, sluicelog.Record{Key: []byte(strconv.FormatInt(s, 10)), Value: debugValue(s, f.valueBytes)})
		}
		part := int32(k % int(info.Partitions))
		res, err := l.Append(ctx, sluicelog.Write{Records: []sluicelog.PartitionRecords{{Topic: f.topic, Partition: part, Records: recs}}})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("append records %d..%d to topic %q partition %d: %w", seq, seq+n-1, f.topic, part, err)
		}
		fmt.Fprintf(out, "ack %d %d %d %d %d\n", res[0].Partition, res[0].BaseOffset, res[0].LastOffset, seq, seq+n-1)
		if err := out.Flush(); err != nil {
			return fmt.Errorf("write acknowledgement: %w", err)
		}
		seq += n
		appended += n
	}
	d := time.Since(start)
	logger.Info("debug append: done", "topic", f.topic, "records", appended, "next_seq", seq,
		"seconds", d.Seconds(), "records_per_second", float64(appended)/max(d.Seconds(), 1e-9))
	return nil
}

// debugValue is the value of record number seq written by debug append: a
// JSON object {"seq":<seq>,"pad":"<letters>"} of exactly size bytes (or the
// object with empty padding when size is smaller). The padding is a
// function of seq, so a reader can recompute every value.
func debugValue(seq int64, size int) []byte {
	b := make([]byte, 0, max(size, 32))
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"pad":"`...)
	x := uint64(seq)*0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D
	for len(b) < size-2 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b = append(b, 'a'+byte(x%26))
	}
	return append(b, `"}`...)
}

// dumpFlags are the flags of "sluice debug dump".
type dumpFlags struct {
	dataDir   string
	topic     string
	partition int32
	from      int64
}

func debugDumpCmd(g *globals) *cobra.Command {
	var f dumpFlags
	cmd := &cobra.Command{
		Use:   "dump --data-dir DIR --topic TOPIC",
		Short: "Print a topic's records as JSON lines",
		Long: `Dump opens the log in DIR/log (stop the daemon first: one process at a time
may open a log) and prints every committed record of the topic, one JSON
object per line:

  {"partition":0,"offset":0,"timestamp":1700000000000,"key":"k","value":"v"}

A key or value that is not valid UTF-8 is printed in base64 and marked with
"key_encoding":"base64" or "value_encoding":"base64"; a null key or value
(a tombstone) is printed as null. Partitions are dumped in order, all of them
unless --partition is given.`,
		Args: cobra.NoArgs,
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			return debugDump(g, f)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "the node's data directory (the log is in DIR/log); required")
	fl.StringVar(&f.topic, "topic", "", "topic to dump; required")
	fl.Int32Var(&f.partition, "partition", -1, "partition to dump; -1 dumps every partition")
	fl.Int64Var(&f.from, "from", 0, "first offset to print; offsets below the log start begin at the log start")
	return cmd
}

// dumpedRecord is one line of debug dump's output.
type dumpedRecord struct {
	Partition     int32          `json:"partition"`
	Offset        int64          `json:"offset"`
	Timestamp     int64          `json:"timestamp"`
	Key           *string        `json:"key"`
	KeyEncoding   string         `json:"key_encoding,omitempty"`
	Value         *string        `json:"value"`
	ValueEncoding string         `json:"value_encoding,omitempty"`
	Headers       []dumpedHeader `json:"headers,omitempty"`
}

type dumpedHeader struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

// dumpBytes renders b as a JSON string: itself when valid UTF-8, base64
// otherwise (then encoding is "base64"); nil stays null.
func dumpBytes(b []byte) (s *string, encoding string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		v := string(b)
		return &v, ""
	}
	v := base64.StdEncoding.EncodeToString(b)
	return &v, "base64"
}

func debugDump(g *globals, f dumpFlags) error {
	if f.dataDir == "" || f.topic == "" {
		return usageError("debug dump: --data-dir and --topic are required")
	}
	logger, err := g.logger()
	if err != nil {
		return err
	}
	dir := logDir(f.dataDir)
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no log in %s: the directory does not exist; check --data-dir (it is node.data_dir, the log lives in its log/ subdirectory)", dir)
		}
		return fmt.Errorf("log directory %s: %w", dir, err)
	}
	l, err := sluicelog.Open(dir, sluicelog.Options{Logger: logger})
	if err != nil {
		return fmt.Errorf("%w; if a sluice process is running on it, stop it first (one process at a time may open a log)", err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			logger.Error("debug dump: closing the log failed", "err", err)
		}
	}()
	info, err := l.Topic(f.topic)
	if err != nil {
		var names []string
		for _, t := range l.Topics() {
			names = append(names, t.Name)
		}
		return fmt.Errorf("topic %q: %w; the log in %s has topics: %s", f.topic, err, dir, strings.Join(names, ", "))
	}
	parts := []int32{f.partition}
	if f.partition < 0 {
		parts = parts[:0]
		for p := range info.Partitions {
			parts = append(parts, p)
		}
	} else if f.partition >= info.Partitions {
		return usageError("debug dump: topic %q has partitions 0 to %d, not %d", f.topic, info.Partitions-1, f.partition)
	}
	out := bufio.NewWriter(g.stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for _, p := range parts {
		if err := dumpPartition(l, f.topic, p, f.from, enc); err != nil {
			return err
		}
	}
	return out.Flush()
}

// dumpPartition writes every committed record of one partition from offset
// from on, up to the high watermark found at the first read.
func dumpPartition(l *sluicelog.Log, topic string, part int32, from int64, enc *json.Encoder) error {
	st, err := l.State(topic, part)
	if err != nil {
		return err
	}
	off := max(from, st.LogStartOffset)
	end := st.HighWatermark
	var recs []sluicelog.Record
	for off < end {
		res, err := l.Read(topic, part, off, sluicelog.ReadOptions{})
		if err != nil {
			return fmt.Errorf("read topic %q partition %d at offset %d: %w", topic, part, off, err)
		}
		if len(res.Batches) == 0 {
			break
		}
		for i := range res.Batches {
			b := &res.Batches[i]
			recs, err = b.AppendRecords(recs[:0])
			if err != nil {
				return fmt.Errorf("topic %q partition %d: decode batch at offset %d: %w", topic, part, b.BaseOffset, err)
			}
			for _, r := range recs {
				if r.Offset < off || r.Offset >= end {
					continue
				}
				d := dumpedRecord{Partition: part, Offset: r.Offset, Timestamp: r.Timestamp}
				d.Key, d.KeyEncoding = dumpBytes(r.Key)
				d.Value, d.ValueEncoding = dumpBytes(r.Value)
				for _, h := range r.Headers {
					dh := dumpedHeader{Key: h.Key}
					dh.Value, dh.ValueEncoding = dumpBytes(h.Value)
					d.Headers = append(d.Headers, dh)
				}
				if err := enc.Encode(d); err != nil {
					return fmt.Errorf("write record: %w", err)
				}
			}
			off = max(off, b.LastOffset+1)
		}
	}
	return nil
}
