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
//	key_columns:                         # default: none
//	  public.events: [id, source]        # schema.table (one of tables) → its key columns, as the catalog spells them
//
// A table's key, in the snapshot and in the stream alike, is its
// key_columns, else its primary key, else its replica identity index
// (REPLICA IDENTITY USING INDEX); a table with none of them (REPLICA
// IDENTITY FULL) has records with a null key. key_columns are checked at
// Open (preflight.go): the table must be one that tables captures, and the
// columns must exist, be NOT NULL and have a unique index on them or on
// some of them, because the snapshot pages through a table by key and a
// key that does not tell rows apart would skip some; and they must be in
// the table's replica identity (all columns under REPLICA IDENTITY FULL),
// because a delete's old row holds only those.
//
// Open also checks, before it creates anything, that the role may
// replicate (REPLICATION or superuser: "ALTER ROLE x WITH REPLICATION"),
// read every table ("GRANT SELECT ON s.t TO x", "GRANT USAGE ON SCHEMA s
// TO x") and create a missing publication (it owns the tables), and that
// no table lacks both a primary key and key_columns while its replica
// identity is DEFAULT or NOTHING (Postgres then refuses its UPDATEs and
// DELETEs once published: "ALTER TABLE s.t REPLICA IDENTITY FULL, or set
// key_columns for it"). Every problem found is listed in one fatal error.
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
// while reading it, it is read again from its start, after an op 't'
// (truncate) event that tells consumers to forget the rows read before.
//
// # Tables added later
//
// An existing publication gains the configured tables it lacks (with
// create_publication true; otherwise Open fails naming the ALTER
// PUBLICATION to run). When the connector resumes from a position, the
// request for an incremental snapshot of the added tables is written in
// the same transaction as the ALTER PUBLICATION, so their rows are read
// while their changes stream from that point on.
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
// "lsn=<X/Y>", the transaction's end LSN. Ack records that LSN and wakes
// the Read loop (through the replication connection's read deadline),
// which confirms it, and only it, to the server with a standby status
// update: only Read's goroutine uses that connection, and Close sends a
// last update. Keepalives that ask for a reply and the heartbeat get the
// last acknowledged LSN.
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
// The snapshot's SELECT and pgoutput both send values in text form, and
// both go through value (values.go), so a row arrives the same from
// either. The sessions set timezone UTC, DateStyle ISO, IntervalStyle
// iso_8601, bytea_output hex, extra_float_digits 1 and lc_monetary C. A
// NULL is a null of the column's kind; an empty string, array or hstore is
// a value.
//
//	bool                          KindBool
//	smallint, integer, bigint     KindInt16, KindInt32, KindInt64
//	oid                           KindInt64
//	real, double precision        KindFloat32, KindFloat64, NaN and ±Infinity included
//	numeric                       KindDecimal, the exact text ("NaN", "Infinity", "-Infinity" too);
//	                              Precision and Scale from the type modifier
//	money                         KindDecimal: "$1,234.56" (lc_monetary C) becomes "1234.56"
//	bytea                         KindBytes
//	date                          KindDate; years past 9999 and BC (1 BC is year 0); infinity and
//	                              -infinity are math.MaxInt32 and math.MinInt32 days, past
//	                              Postgres's range
//	time, timetz                  KindTime, KindTimeTZ, Prec from the type modifier (6 without);
//	                              24:00:00 is kept
//	timestamp, timestamptz        KindTimestamp, KindTimestampTZ, microseconds since 1970 (UTC);
//	                              infinity and -infinity are math.MaxInt64 and math.MinInt64 (the
//	                              json converter writes "+294247-01-10T04:00:54.775807Z"); a
//	                              timestamp after 294246 AD does not fit and is an error
//	interval                      KindInterval, ISO 8601
//	uuid                          KindUUID, lower case
//	json, jsonb                   KindJSON, the text as the server prints it
//	bit, varbit                   KindBits
//	enums                         KindEnum, the labels in Column.Enum
//	arrays                        KindArray, the element kind in Column.Elem; more dimensions nest;
//	                              the element type's delimiter is used (';' for box[])
//	domains                       their base type's kind, precision, scale and length, NOT NULL
//	                              (Column.Optional false) when the domain is
//	composite types               KindJSON: a JSON object of the attributes by name (below)
//	hstore                        KindJSON: a JSON object of strings and nulls in hstore's order,
//	                              as Debezium's hstore.handling.mode=json (with the extension)
//	anything else                 KindString holding Postgres's text form, as Debezium does:
//	                              text, varchar, char (blank-padded), xml, inet, cidr, macaddr,
//	                              macaddr8, tsvector, ranges ("[1,10)", "empty"), geometric types
//	                              ("(1,2)", "(1,1),(0,0)", "<(0,0),1>")
//
// A composite value cannot be asked of the server as JSON in pgoutput, so
// both paths parse its record text form (`(1,"a b",,)`). When a table
// is described (catalog.go), the composite's attributes are read from
// pg_attribute of its typrelid, and each attribute is then read as a
// column of its type would be (nested composites, arrays, domains, enums
// too) and written as the json converter writes that value: numeric as a
// string, bytea as base64, timestamps in ISO 8601. ALTER TYPE changes a
// composite without a relation message, so the description may be old: an
// attribute past the described ones is named "f<N>", and one whose text
// does not read as its described type is kept, like it, as a string of
// its text; the connector's next start describes the type again. The
// attributes, the hstore mark and an array's delimiter do not fit in
// connect.Column, so each such column's plan is kept beside it (types.go).
//
// # Not done yet
//
//   - proto_version 2 streaming of in-progress transactions: a large
//     transaction is decoded by the server only at its commit.
//   - The heartbeat position is the message's start LSN, not its end, so
//     after a restart the last heartbeat may come once more.
//
// # Files
//
//	config.go       the config block and its checks
//	source.go       Kind, Source, Open (preflight, slot, publication), Ack, Close
//	catalog.go      tables from patterns, the publication, column types
//	preflight.go    the checks of Open: role, grants, replica identity, key_columns
//	types.go        decoding facts of composite, hstore and array columns
//	position.go     positions: LSN and snapshot progress
//	snapshot.go     the initial snapshot through the slot's exported snapshot
//	incremental.go  incremental snapshots merged into the stream with watermarks
//	toast.go        unchanged TOAST values
//	stream.go       replication, pgoutput decoding, heartbeats, status updates
//	values.go       text-format values to connect.Value
package postgres
