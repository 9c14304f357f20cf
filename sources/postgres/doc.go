// Package postgres is the postgres-source connector kind: it captures every
// committed row change of chosen PostgreSQL tables through a logical
// replication slot with the pgoutput plugin (pglogrepl and pgx).
//
// # Config
//
//	dsn: postgres://user@host:5432/db    # required
//	tables: [public.customers, public.*] # required: schema.table or schema.*
//	slot: sluice_shop                    # default: sluice_<connector name, lower-cased, other characters → _>
//	publication: sluice_shop             # default: the same as slot's default
//	snapshot: initial                    # initial | never | when_needed | initial_only
//	topic_prefix: shop                   # default: the connector's name
//	create_publication: true             # create the publication FOR TABLE the resolved tables if absent
//	heartbeat_interval: 10s              # how often a standby status update and a heartbeat message are sent
//	snapshot_parallelism: 1              # tables the initial snapshot reads at once, each on its own connection
//	snapshot_chunk_size: 1024            # rows per snapshot chunk: one batch, one stored position
//
// # Open
//
// Open checks that wal_level is logical (a fatal error otherwise, naming
// ALTER SYSTEM SET wal_level = logical), resolves the tables and patterns,
// creates the publication if it is missing and create_publication is true,
// and creates the slot if it is missing. On a fresh start (nil position)
// with a snapshot the slot is created with EXPORT_SNAPSHOT (a slot left
// behind by an unfinished fresh start is dropped and created again), and
// the snapshot is read by snapshot_parallelism workers, each in a
// REPEATABLE READ transaction that imports it (snapshot.go).
// Opening at a position whose slot is gone is a resync-needed error whose
// message says to run "sluice connectors reset <connector name>" to take a
// new snapshot, except with snapshot when_needed: then the slot is created
// again with an exported snapshot and a new initial snapshot (op 'r'
// events) is taken before streaming from the new slot.
//
// # Events and positions
//
// Snapshot rows are op 'r' events (Source.Snapshot "true", "last" on the
// last one). Each table is read in key order (primary key, or key_columns)
// in chunks of snapshot_chunk_size rows; every chunk is a batch whose
// position holds the slot's consistent point and the progress of every
// table (position.go):
//
//	lsn=0/16B3748 snapshot={"tables":[{"table":"public.t","mode":"initial","after":["42"],"done":42,"total":1000}]}
//
// The last batch carries the plain position of the consistent point. An
// interrupted snapshot goes on after its last durable chunk: the exported
// snapshot is gone by then, so the rest is read by the incremental
// snapshot while streaming from the consistent point (incremental.go).
// A table without a key is read whole; if the snapshot is interrupted
// while reading it, it is read again from its start, so its first rows
// come twice (set key_columns to avoid that).
//
// # Incremental snapshots
//
// RequestSnapshot (sluice connectors snapshot NAME --table schema.table)
// writes a request into the WAL with pg_logical_emit_message in a
// committed transaction, so it is durable when the call returns. When the
// stream reaches it, the tables are read again in key-ordered chunks
// between low and high watermark messages (Debezium's incremental
// snapshot, Netflix's DBLog): streamed changes between a chunk's
// watermarks drop the chunk's rows of the same keys, and the rest go out
// at the high watermark as op 'r' events with Source.Snapshot
// "incremental". The progress travels in every position, so a restart
// goes on with the next chunk. A table without a key is read in one chunk,
// again if it changes meanwhile (up to 5 times, then the table is given up
// and the status says so).
//
// # Unchanged TOAST values
//
// An update that does not change a large (TOASTed) value does not carry
// it. The source fills it from the update's old image (REPLICA IDENTITY
// FULL), else from the row's newest image it emitted in this run (a cache
// of 10,000 rows / 64 MiB), else from the latest record of the row in its
// topic (connect.Env.Previous), else with Debezium's placeholder
// "__debezium_unavailable_value" (bytes of it for bytea, a JSON string for
// json, null for other kinds), counted in the status as
// toast_placeholders (toast.go).
//
// Streamed changes come one batch per transaction, or per 1000 events of a
// larger one, the last batch of a transaction carrying the position
// "lsn=<X/Y>", the transaction's end LSN. Ack confirms that LSN, and only
// that, to the server with a standby status update; keepalives that ask for
// a reply and the heartbeat get the last acknowledged LSN.
//
// # Heartbeats
//
// Every heartbeat_interval while streaming the source runs
//
//	SELECT pg_logical_emit_message(false, 'sluice_heartbeat', '')
//
// on its normal connection, and streams with the pgoutput option messages
// 'true' (PostgreSQL 14 and later). When such a message comes back outside a
// transaction, Read returns a batch with no events and the position
// "lsn=<the message's LSN>", so that acknowledging it moves the slot's
// confirmed_flush_lsn even when only tables that are not captured change,
// and WAL does not pile up. Other prefixes' messages are ignored.
//
// # Types
//
// Besides the scalar types (bool, integers, floats, numeric as exact
// decimal text, bytea, date and time types, interval, uuid, json/jsonb):
// arrays of them whose element delimiter is ',' are KindArray with the
// element kind in Column.Elem (more dimensions nest arrays; NULL elements
// are nulls of the element kind); user enums are KindEnum with their
// labels in Column.Enum; bit and varbit are KindBits, Bytes right-aligned
// big-endian and Int the length in bits; money is KindDecimal: the
// sessions set lc_monetary to C so that money prints as "$1,234.56", and
// the source turns that into "1234.56".
//
// # Not done yet
//
//   - An existing publication is used as it is: tables added to the config
//     later are not added to it.
//   - proto_version 2 streaming of in-progress transactions: a large
//     transaction is decoded by the server only at its commit.
//   - Ranges, geometry, domains, composite types and arrays of types whose
//     delimiter is not ',' (box[]) arrive as strings holding the text form.
//   - The heartbeat position is the message's start LSN, not its end, so
//     after a restart the last heartbeat may come once more.
//
// # Files
//
//	config.go       the config block and its checks
//	source.go       Kind, Source, Open (preflight, slot, publication), Ack, Close
//	catalog.go      tables from patterns, the publication, column types
//	position.go     positions: LSN and snapshot progress
//	snapshot.go     the initial snapshot through the slot's exported snapshot
//	incremental.go  incremental snapshots merged into the stream with watermarks
//	toast.go        unchanged TOAST values
//	stream.go       replication, pgoutput decoding, heartbeats, status updates
//	values.go       text-format values to connect.Value
package postgres
