package kafkaapi

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// groupWatch tracks the partitions each kgo consumer owns, from its rebalance
// callbacks.
type groupWatch struct {
	mu      sync.Mutex
	owned   map[string]map[int32]bool // consumer → partitions
	changed chan struct{}
}

func newGroupWatch() *groupWatch {
	return &groupWatch{owned: map[string]map[int32]bool{}, changed: make(chan struct{}, 1)}
}

func (w *groupWatch) opts(name string) []kgo.Opt {
	update := func(add bool) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			w.mu.Lock()
			if w.owned[name] == nil {
				w.owned[name] = map[int32]bool{}
			}
			for _, p := range ps["rebalance"] {
				if add {
					w.owned[name][p] = true
				} else {
					delete(w.owned[name], p)
				}
			}
			w.mu.Unlock()
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
	}
	return []kgo.Opt{
		kgo.OnPartitionsAssigned(update(true)),
		kgo.OnPartitionsRevoked(update(false)),
		kgo.OnPartitionsLost(update(false)),
	}
}

func (w *groupWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var names []string
	for n := range w.owned {
		names = append(names, n)
	}
	sort.Strings(names)
	s := ""
	for _, n := range names {
		var ps []int
		for p := range w.owned[n] {
			ps = append(ps, int(p))
		}
		sort.Ints(ps)
		s += fmt.Sprintf("%s=%v ", n, ps)
	}
	return s
}

// waitFor waits until every consumer named owns exactly counts[name]
// partitions and together they own all of them.
func (w *groupWatch) waitFor(t *testing.T, ctx context.Context, counts map[string]int) {
	t.Helper()
	for {
		w.mu.Lock()
		ok, all := true, map[int32]bool{}
		for name, n := range counts {
			if len(w.owned[name]) != n {
				ok = false
			}
			for p := range w.owned[name] {
				all[p] = true
			}
		}
		w.mu.Unlock()
		if ok && len(all) == 4 {
			return
		}
		select {
		case <-w.changed:
		case <-ctx.Done():
			t.Fatalf("assignments never became %v: %s", counts, w)
		}
	}
}

// Two kgo consumers share a topic's partitions through the coordinator
// (kgo's default cooperative-sticky balancer, over the classic protocol), and
// the survivor takes everything back when the other leaves.
func TestGroupKgoRebalance(t *testing.T) {
	ts := startServer(t, Options{})
	mustTopic(t, ts, "rebalance", 4)
	ctx := ctxTimeout(t, 60*time.Second)
	w := newGroupWatch()
	consumer := func(name string) *kgo.Client {
		opts := append([]kgo.Opt{
			kgo.SeedBrokers(ts.addr), kgo.ClientID(name), kgo.ConsumerGroup("rebalance-g"), kgo.ConsumeTopics("rebalance"),
			kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(100 * time.Millisecond),
		}, w.opts(name)...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		// Poll so that kgo's group management runs as in a real consumer.
		go func() {
			for !cl.PollFetches(ctx).IsClientClosed() && ctx.Err() == nil {
			}
		}()
		return cl
	}
	c1 := consumer("c1")
	defer c1.Close()
	w.waitFor(t, ctx, map[string]int{"c1": 4})
	c2 := consumer("c2")
	w.waitFor(t, ctx, map[string]int{"c1": 2, "c2": 2})
	c2.Close() // leaves the group
	w.waitFor(t, ctx, map[string]int{"c1": 4})
}
