package log

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// corruptBatch overwrites the stored batch at base with garbage of the
// same shape (a flipped byte), as disk rot or a torn write would.
func corruptBatch(t *testing.T, l *Log, topic string, part int32, base int64) {
	t.Helper()
	p, err := l.partition(topic, part)
	if err != nil {
		t.Fatal(err)
	}
	k := batchKey(p.topic.Load().id, part, base)
	v, closer, err := l.db.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), v...)
	closer.Close()
	bad[len(bad)/2] ^= 0xff
	if err := l.db.Set(k, bad, nil); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptTailIsCutAndLogged(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	mustCreate(t, l, "t", 1, nil)
	mustAppend(t, l, "t", 0, kv("a", "1"), kv("b", "2"))
	mustAppend(t, l, "t", 0, kv("c", "3"))
	mustAppend(t, l, "t", 0, kv("d", "4"), kv("e", "5"))
	corruptBatch(t, l, "t", 0, 3)
	l.Close()

	var logs syncBuffer
	l = openTest(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if !strings.Contains(logs.String(), "cutting corrupt or torn batch") || !strings.Contains(logs.String(), "offset=3") {
		t.Fatalf("cut not logged:\n%s", logs.String())
	}
	if got := describe(readAll(t, l, "t", 0, 0)); got != "0:a=1 1:b=2 2:c=3 " {
		t.Fatalf("after cut: %s", got)
	}
	if r := mustAppend(t, l, "t", 0, kv("f", "6")); r.BaseOffset != 3 {
		t.Fatalf("next offset %d, want 3", r.BaseOffset)
	}
}

func TestCorruptMiddleIsAnError(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	mustCreate(t, l, "orders", 2, nil)
	for i := 0; i < 3; i++ {
		mustAppend(t, l, "orders", 1, kv(fmt.Sprint(i), "v"))
	}
	corruptBatch(t, l, "orders", 1, 1)
	l.Close()
	l = openTest(t, dir, Options{})
	if st, _ := l.State("orders", 1); st.LogEndOffset != 3 {
		t.Fatalf("middle corruption changed the log end: %+v", st)
	}
	_, err := l.Read("orders", 1, 1, ReadOptions{})
	var ce *CorruptionError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of corrupt batch: %v", err)
	}
	if ce.Topic != "orders" || ce.Partition != 1 || ce.Offset != 1 {
		t.Fatalf("corruption names %q/%d@%d", ce.Topic, ce.Partition, ce.Offset)
	}
	for _, want := range []string{`"orders"`, "partition 1", "offset 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %s", err, want)
		}
	}
	// Reading from 0 stops at the corrupt batch with the error too.
	if _, err := l.Read("orders", 1, 0, ReadOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read from 0: %v", err)
	}
}

// TestWriteErrorFailsAppend injects a WAL write error: the append fails, is
// not acknowledged, and the log refuses later writes; after a reopen every
// acknowledged record is there.
func TestWriteErrorFailsAppend(t *testing.T) {
	for name, kinds := range map[string][]errorfs.OpKind{
		"write": {errorfs.OpFileWrite, errorfs.OpFileWriteAt},
		"sync":  {errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo},
	} {
		t.Run(name, func(t *testing.T) {
			mem := vfs.NewMem()
			var toggle errorfs.Toggle
			inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
				if slices.Contains(kinds, op.Kind) && strings.HasSuffix(op.Path, ".log") {
					if name == "write" {
						return syscall.ENOSPC // a full disk
					}
					return errorfs.ErrInjected
				}
				return nil
			})
			toggle.Injector = inj
			fs := errorfs.Wrap(mem, &toggle)
			l, err := Open("db", Options{FS: fs, Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
			if err != nil {
				t.Fatal(err)
			}
			mustCreate(t, l, "t", 1, nil)
			mustAppend(t, l, "t", 0, kv("a", "1"))
			toggle.On()
			_, err = l.Append(context.Background(), Write{Records: []PartitionRecords{{Topic: "t", Records: []Record{kv("b", "2")}}}})
			if err == nil {
				t.Fatalf("append acknowledged despite a %s error", name)
			}
			toggle.Off()
			_, err = l.Append(context.Background(), Write{Records: []PartitionRecords{{Topic: "t", Records: []Record{kv("c", "3")}}}})
			if !errors.Is(err, ErrFailed) {
				t.Fatalf("append after a failed write: %v", err)
			}
			if err := l.CommitOffsets("g", []GroupOffset{{Topic: "t", Offset: 1}}); !errors.Is(err, ErrFailed) {
				t.Fatalf("commit after a failed write: %v", err)
			}
			if st, _ := l.State("t", 0); st.HighWatermark != 1 {
				t.Fatalf("HW advanced over an unacknowledged append: %+v", st)
			}
			l.Close()
		})
	}
}

// TestCrashLosesNoAcknowledgedRecord simulates power loss at random moments
// while several appenders run: a crash clone keeps only what was fsynced
// (plus a random share of what was not). Every record acknowledged before
// the crash must be in the reopened log at its offset, and offsets must be
// dense with no duplicate.
func TestCrashLosesNoAcknowledgedRecord(t *testing.T) {
	mem := vfs.NewCrashableMem()
	quiet := slog.New(slog.NewTextHandler(&syncBuffer{}, nil))
	l, err := Open("db", Options{FS: mem, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, l, "t", 2, nil)
	var mu sync.Mutex
	acked := map[string]int64{} // value → offset
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				n := 1 + i%5
				recs := make([]Record, n)
				for j := range recs {
					recs[j] = kv(fmt.Sprint(w), fmt.Sprintf("w%d-%d-%d", w, i, j))
				}
				res, err := l.Append(ctx, Write{Records: []PartitionRecords{{Topic: "t", Partition: int32(w % 2), Records: recs}}})
				if err != nil {
					return
				}
				mu.Lock()
				for j, r := range recs {
					acked[string(r.Value)] = res[0].BaseOffset + int64(j)
				}
				mu.Unlock()
			}
		}(w)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for crash := 0; crash < 5; crash++ {
		// Let some appends through, then crash.
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= (crash+1)*300 {
				break
			}
		}
		mu.Lock()
		snapshot := make(map[string]int64, len(acked))
		for k, v := range acked {
			snapshot[k] = v
		}
		mu.Unlock()
		clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rand.New(rand.NewPCG(uint64(crash), 7))})
		cl, err := Open("db", Options{FS: clone, Logger: quiet})
		if err != nil {
			t.Fatalf("crash %d: reopen: %v", crash, err)
		}
		seen := map[string]int64{}
		for p := int32(0); p < 2; p++ {
			for i, r := range readAll(t, cl, "t", p, 0) {
				if r.Offset != int64(i) {
					t.Fatalf("crash %d: partition %d offset %d at position %d", crash, p, r.Offset, i)
				}
				if _, dup := seen[string(r.Value)]; dup {
					t.Fatalf("crash %d: duplicate %s", crash, r.Value)
				}
				seen[string(r.Value)] = r.Offset
			}
		}
		for v, off := range snapshot {
			got, ok := seen[v]
			if !ok {
				t.Fatalf("crash %d: acknowledged record %s lost", crash, v)
			}
			if got != off {
				t.Fatalf("crash %d: record %s at offset %d, acknowledged at %d", crash, v, got, off)
			}
		}
		cl.Close()
	}
	cancel()
	wg.Wait()
	l.Close()
}
