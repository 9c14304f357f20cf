package postgres

import "testing"

func TestSnapshotSees(t *testing.T) {
	sn, err := parseSnapshot("100:110:102,105")
	if err != nil {
		t.Fatal(err)
	}
	for xid, want := range map[uint32]bool{1: true, 99: true, 100: true, 101: true, 102: false, 104: true, 105: false, 109: true, 110: false, 200: false} {
		if got := sn.sees(xid); got != want {
			t.Errorf("sees(%d) = %v, want %v", xid, got, want)
		}
	}
	// Across an epoch: xmax is in epoch 1, the 32-bit ids wrap.
	sn, err = parseSnapshot("4294967290:4294967306:4294967300")
	if err != nil {
		t.Fatal(err)
	}
	for xid, want := range map[uint32]bool{4294967280: true, 4294967295: true, 3: true, 4: false, 9: true, 10: false, 20: false} {
		if got := sn.sees(xid); got != want {
			t.Errorf("epoch: sees(%d) = %v, want %v", xid, got, want)
		}
	}
	for _, bad := range []string{"", "1:2", "a:2:", "1:b:", "1:2:x"} {
		if _, err := parseSnapshot(bad); err == nil {
			t.Errorf("parseSnapshot(%q) succeeded", bad)
		}
	}
}
