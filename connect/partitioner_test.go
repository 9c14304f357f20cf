package connect

import "testing"

// TestMurmur2MatchesKafka checks murmur2 against values computed by Kafka's
// Java Utils.murmur2 (from Kafka's own UtilsTest).
func TestMurmur2MatchesKafka(t *testing.T) {
	cases := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	for in, want := range cases {
		if got := int32(murmur2([]byte(in))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
	if p := Partition(nil, 6); p != 0 {
		t.Errorf("null key → partition %d", p)
	}
	for k := 0; k < 1000; k++ {
		if p := Partition([]byte{byte(k), byte(k >> 8)}, 7); p < 0 || p >= 7 {
			t.Fatalf("partition %d out of range", p)
		}
	}
}
