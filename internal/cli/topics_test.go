package cli

import (
	"strings"
	"testing"
)

// TestTopicsRoundTrip creates, lists, describes, alters and deletes topics
// on a real node and checks the exact output of each step.
func TestTopicsRoundTrip(t *testing.T) {
	addr := startWireNode(t)
	run := func(stdin string, args ...string) string {
		t.Helper()
		stdout, _ := wireOK(t, stdin, append(args, "--bootstrap", addr)...)
		return stdout
	}
	fail := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := wire(t, "", append(args, "--bootstrap", addr)...)
		if code != ExitFailure || stdout != "" {
			t.Fatalf("sluice %s: exit %d, stdout %q; want 1 and nothing", strings.Join(args, " "), code, stdout)
		}
		return stderr
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", what, got, want)
		}
	}

	check("list of none", run("", "topics", "list"), "NAME  PARTITIONS  REPLICATION-FACTOR\n")
	check("list --json of none", run("", "topics", "list", "--json"), "[]\n")
	check("create orders", run("", "topics", "create", "orders", "--partitions", "3", "--set", "cleanup.policy=compact", "--set", "retention.ms=86400000"),
		"created topic \"orders\": 3 partitions, replication factor 1\n")
	check("create events", run("", "topics", "create", "events"), "created topic \"events\": 1 partition, replication factor 1\n")
	check("create orders again", fail("topics", "create", "orders"), "sluice: topic \"orders\" already exists\n")
	check("create with a bad config", fail("topics", "create", "bad", "--set", "retention.ms=soon"),
		"sluice: topic \"bad\": invalid topic config: retention.ms: want an integer ≥ -1, got \"soon\"\n")
	check("create with an impossible replication factor", fail("topics", "create", "bad", "--replication-factor", "3"),
		"sluice: topic \"bad\": replication factor 3 is not possible with 1 broker(s)\n")

	check("list", run("", "topics", "list"),
		"NAME    PARTITIONS  REPLICATION-FACTOR\n"+
			"events  1           1\n"+
			"orders  3           1\n")
	check("list --json", run("", "topics", "list", "--json"),
		`[{"name":"events","partitions":1,"replication_factor":1},{"name":"orders","partitions":3,"replication_factor":1}]`+"\n")

	// Five records in partition 1, so the offsets show.
	run("a\t1\nb\t2\nc\t3\nd\t4\ne\t5\n", "produce", "orders", "--keyed", "--partition", "1")
	check("describe", run("", "topics", "describe", "orders"),
		"Topic: orders\n"+
			"Partitions: 3\n"+
			"Replication factor: 1\n"+
			"Configs: cleanup.policy=compact, retention.ms=86400000\n"+
			"\n"+
			"PARTITION  LEADER  REPLICAS  ISR  LOG-START  HIGH-WATERMARK\n"+
			"0          1       1         1    0          0\n"+
			"1          1       1         1    0          5\n"+
			"2          1       1         1    0          0\n")
	check("describe events", run("", "topics", "describe", "events"),
		"Topic: events\n"+
			"Partitions: 1\n"+
			"Replication factor: 1\n"+
			"Configs: none set; every config has its default\n"+
			"\n"+
			"PARTITION  LEADER  REPLICAS  ISR  LOG-START  HIGH-WATERMARK\n"+
			"0          1       1         1    0          0\n")

	check("alter", run("", "topics", "alter", "orders", "--set", "retention.ms=3600000", "--set", "min.compaction.lag.ms=0", "--delete", "cleanup.policy"),
		"altered topic \"orders\": set retention.ms=3600000, min.compaction.lag.ms=0; deleted cleanup.policy\n")
	check("alter partitions", run("", "topics", "alter", "orders", "--partitions", "4"),
		"altered topic \"orders\": now 4 partitions\n")
	check("describe --json after alter", run("", "topics", "describe", "orders", "--json"),
		`{"name":"orders","partitions":[`+
			`{"partition":0,"leader":1,"leader_epoch":0,"replicas":[1],"isr":[1],"log_start_offset":0,"high_watermark":0},`+
			`{"partition":1,"leader":1,"leader_epoch":0,"replicas":[1],"isr":[1],"log_start_offset":0,"high_watermark":5},`+
			`{"partition":2,"leader":1,"leader_epoch":0,"replicas":[1],"isr":[1],"log_start_offset":0,"high_watermark":0},`+
			`{"partition":3,"leader":1,"leader_epoch":0,"replicas":[1],"isr":[1],"log_start_offset":0,"high_watermark":0}],`+
			`"replication_factor":1,"configs":{"min.compaction.lag.ms":"0","retention.ms":"3600000"}}`+"\n")
	check("alter with a bad value", fail("topics", "alter", "orders", "--set", "cleanup.policy=sometimes"),
		"sluice: topic \"orders\": invalid topic config: cleanup.policy: cleanup.policy \"sometimes\": want delete, compact or compact,delete\n")
	check("shrink", fail("topics", "alter", "orders", "--partitions", "2"),
		"sluice: topic \"orders\": invalid topic: topic \"orders\" has 4 partitions; the new count must be larger (and at most 100000), got 2\n")
	check("alter a missing topic", fail("topics", "alter", "nope", "--set", "retention.ms=1"),
		"sluice: topic \"nope\" does not exist; \"sluice topics list\" shows the topics there are\n")

	check("delete", run("", "topics", "delete", "orders", "events"), "deleted topic \"orders\"\ndeleted topic \"events\"\n")
	check("list after delete", run("", "topics", "list"), "NAME  PARTITIONS  REPLICATION-FACTOR\n")
	check("describe a deleted topic", fail("topics", "describe", "orders"),
		"sluice: topic \"orders\" does not exist; \"sluice topics list\" shows the topics there are\n")
	check("delete a deleted topic", fail("topics", "delete", "orders"),
		"sluice: topic \"orders\" does not exist; \"sluice topics list\" shows the topics there are\n")

	// Deleting several: the good ones go, every failure is named.
	run("", "topics", "create", "keep")
	code, stdout, stderr := wire(t, "", "topics", "delete", "gone1", "keep", "gone2", "--bootstrap", addr)
	check("delete some missing: stdout", stdout, "deleted topic \"keep\"\n")
	check("delete some missing: stderr", stderr,
		"sluice: topic \"gone1\" does not exist; \"sluice topics list\" shows the topics there are\n"+
			"sluice: topic \"gone2\" does not exist; \"sluice topics list\" shows the topics there are\n")
	if code != ExitFailure {
		t.Errorf("delete some missing: exit %d, want 1", code)
	}
}
