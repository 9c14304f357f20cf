// Package datagen is the datagen-source connector: it invents the change
// events of one table, at a configured rate and shape, for demos and
// benchmarks, without a database.
//
// # Configuration
//
//	connectors:
//	  - name: demo-gen
//	    kind: datagen-source
//	    config:
//	      topic_prefix: demo      # default: the connector's name
//	      database: shop          # default: datagen
//	      table: orders           # default: events
//	      columns:                # default: the orders-like table below
//	        - {name: id, type: bigint, key: true}
//	        - {name: note, type: text}
//	      rows: 1000              # distinct keys; 0 = every event a new key. Default: 1000
//	      rate: 1000              # events per second; 0 = as fast as possible. Default: 1000
//	      batch_size: 100         # events per batch = per transaction. Default: 100
//	      ops: {u: 9, d: 1}       # weights of update and delete. Default: {u: 1, d: 0}
//	      max_events: 0           # stop after this many events; 0 = never. Default: 0
//	      seed: 1                 # the stream is a function of the seed. Default: 1
//
// Events go to the topic "<topic_prefix>.<database>.<table>"; the three
// parts may hold letters, digits, '.', '_' and '-'.
//
// columns lists the table's columns, each {name, type, key}. The types are
// int (KindInt32), bigint (KindInt64), uint64 (KindUint64, the full
// unsigned range), text, decimal (numeric(12,2), an exact decimal string),
// bool, timestamptz (microseconds, UTC), date, json, bytes and uuid. key:
// true marks the primary-key columns, which must be int, bigint, uint64,
// text or uuid; when no column is marked, the first one is the key. An int
// key holds at most 2^31−1 rows. The default columns are
//
//	id bigint (key), customer_id int, status text, amount decimal, paid bool, created_at timestamptz
//
// ops weighs what an event does to a key that already has a row: u updates
// it, d deletes it. An event on a key without a row always creates it, so
// creates have no weight: the first touch of every key is a create, and so
// is the next touch after a delete. With the default {u: 1, d: 0} the
// stream creates every key once, then updates them forever. rows: 0 gives
// an insert-only stream: every event creates a new key, and ops is unused.
//
// # The stream
//
// The stream is a pure function of the config and the event's sequence
// number n (from 0): event n is the same event whatever came before it, so
// a source opened at a position continues the exact stream a run from the
// start produces, and two sources with the same config produce identical
// events. Every cycle of rows events touches every key once, in an order
// drawn from (seed, cycle); see generate.go for the scheme.
//
//   - Op is c for a key without a row, u or d for a key with one. An update
//     has Before (the row as the key's previous event left it) and After;
//     a delete has Before only; a create After only.
//   - Transactions are runs of batch_size events: event n is in
//     transaction n / batch_size, and Transaction{ID, TotalOrder,
//     DataCollectionOrder} say so (IDs are decimal numbers, from "0").
//   - Source is {Connector: "datagen", Name: topic_prefix, Database, Table,
//     Snapshot: "false", TxID: the transaction ID, Extra: [seq]}. Its TsMs,
//     and the event's, is a synthetic commit time: 2024-01-01T00:00:00Z
//     plus n/rate seconds (n milliseconds with rate 0), so that it too
//     repeats exactly.
//
// # Positions, batches and rate
//
// A position is "seq=N": the sequence number of the next event, always at
// a transaction boundary when the source writes it. A position that does
// not parse (anything but "seq=" and a canonical decimal number) is a fatal
// error naming it. Opening at nil starts at event 0.
//
// With rate 0 each Read returns the rest of the current transaction and its
// end position. With a rate, Read returns at most about a tenth of a
// second's worth of events, waiting on a timer until the last of them is
// due (never spinning), and only a batch that ends a transaction carries a
// position. A source that falls more than a second behind its schedule
// (the runtime was busy) starts a new schedule instead of catching up in a
// burst. After max_events events Read blocks until its ctx ends.
//
// The source has one task and holds no connection: Ack only records the
// position for Status.
package datagen
