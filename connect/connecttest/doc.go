// Package connecttest is the acceptance suite every source and sink kind
// runs: one set of checks of the contracts in package connect, run against
// each implementation from that implementation's own tests, the way
// nats-server runs its store tests against every store.
//
// A source's test describes how to make a fresh instance of it in a
// SourceHarness and calls RunSource; a sink's test fills a SinkHarness and
// calls RunSink:
//
//	func TestAcceptance(t *testing.T) {
//		connecttest.RunSource(t, connecttest.SourceHarness{
//			Kind:     datagen.New(),
//			Config:   func(t *testing.T) string { return "rate: 0\nbatch_size: 7" },
//			Identity: func(ev connect.ChangeEvent) string { ... },
//		})
//	}
//
// # Config text
//
// Every config a harness gives (Config, BadConfigs, Unreachable) is the YAML
// text of the connector's "config:" block only — what a user writes under
// "config:" — not the whole connector entry. The suite places it in a
// version 1 config file as the block of a connector named "acceptance" of
// the harness's kind (tasks_max 1, converter json) and loads it with
// configs.Parse, so the block gets the positions, defaults and checks of a
// real file. ${VAR} references are substituted from an empty environment:
// write $$ for a literal "$".
//
// # Instances
//
// Each subtest that opens a connector uses one instance: it calls Config
// once, builds its connectors (resume and write_read_back build two in
// turn, a run and a restart) from that block, and calls the harness's
// other hooks for that instance (Produce, ReadBack, Break) with the same
// *testing.T. A harness that keeps per-instance state,
// such as the directory a file sink writes to, can key it by that t;
// InstanceDir gives a directory that stays the same for one t.
//
// # Helpers for connector tests
//
// Connector (a config block → the *configs.Connector the runtime would
// pass), Env (the Env the suite gives instances) and InstanceDir are
// exported for a connector's own unit tests.
//
// # What RunSource checks
//
//   - config/valid: Check finds no problem in Config's block, Tasks is
//     between 1 and tasks_max, and a config file holding it passes
//     configs.Parse with the kind registered.
//   - config/invalid/FIELD: for each BadConfigs entry, Check returns a
//     problem whose Path ends with FIELD and that has a line; configs.Parse
//     with the kind registered rejects the file naming the same field.
//   - resume: Open(nil), Read (calling Produce as needed) until at least
//     Events events have come and a batch boundary P lies at or past half
//     of them; Ack(P); Close. A new instance opened at P continues right
//     after it: no identity from before P comes again, and — unless
//     Nondeterministic — the events after P are exactly those the first
//     run read after P, in order. Every event is well-formed (table, topic,
//     op, row images matching the columns) and no identity repeats within
//     a run. Ack of the positions read succeeds.
//   - cancel: Read returns an error wrapping context.Canceled soon after
//     its ctx is cancelled, whether it was blocked or producing.
//   - bad_position: opening at bytes that are no position of this source
//     fails, in Open or the first Read, with an error classed fatal,
//     resync-needed or corruption — never a silent fresh start.
//   - unreachable (when Unreachable is set): Open, or the first Read, of a
//     config whose database cannot be reached fails with an error classed
//     explicitly (connect.Retriable or connect.Fatal), before the suite's
//     deadline.
//
// # What RunSink checks
//
//   - config/valid and config/invalid/FIELD, as for sources.
//   - write_read_back: Open, then Write three batches of records of two
//     partitions of one topic, interleaved, each partition in offset order
//     (plus an empty batch). ReadBack right after the last Write — before
//     Close, since Write returns only once records are delivered — and again
//     after Close shows every record once, each partition in offset order
//     (or, with Unordered, the same set).
//   - redelivery: a new instance on the same destination (a restart) gets
//     the last batch again, as after a crash before the offsets were
//     committed. Nothing delivered before is lost; an Idempotent sink shows
//     the same records as before, any other sink shows the batch appended
//     once more.
//   - broken (when Break is set): after Break, Write fails with an error
//     classed connect.Retriable.
package connecttest
