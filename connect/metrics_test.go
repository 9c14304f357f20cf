package connect

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCountTopics(t *testing.T) {
	recs := func(topics ...string) []Record {
		out := make([]Record, len(topics))
		for i, tp := range topics {
			out[i].Topic = tp
		}
		return out
	}
	for _, tc := range []struct {
		name string
		recs []Record
		want []topicCount
	}{
		{"none", nil, nil},
		{"one topic", recs("a", "a", "a"), []topicCount{{"a", 3}}},
		{"runs", recs("a", "a", "b", "b", "b", "a"), []topicCount{{"a", 3}, {"b", 3}}},
		{"interleaved", recs("a", "b", "c", "b", "a", "c", "c"), []topicCount{{"a", 2}, {"b", 2}, {"c", 3}}},
	} {
		if got := countTopics(tc.recs); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCountTopicsMatchesAMap compares countTopics with a plain map count,
// on batches from one to more than maxTopicScan topics.
func TestCountTopicsMatchesAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, ntopics := range []int{1, 3, maxTopicScan, maxTopicScan + 1, 100} {
		for round := 0; round < 20; round++ {
			recs := make([]Record, rng.IntN(500))
			want := map[string]int{}
			var order []string
			for i := range recs {
				tp := fmt.Sprintf("t%d", rng.IntN(ntopics))
				if i > 0 && rng.IntN(4) > 0 {
					tp = recs[i-1].Topic // runs, as batches have them
				}
				recs[i].Topic = tp
				if want[tp] == 0 {
					order = append(order, tp)
				}
				want[tp]++
			}
			got := countTopics(recs)
			if len(got) != len(want) {
				t.Fatalf("%d topics: %d counts, want %d", ntopics, len(got), len(want))
			}
			for i, c := range got {
				if c.topic != order[i] || c.n != want[c.topic] {
					t.Fatalf("%d topics: count %d is %v, want %s %d", ntopics, i, c, order[i], want[order[i]])
				}
			}
		}
	}
}
