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
//
// # Open
//
// Open checks that wal_level is logical (a fatal error otherwise, naming
// ALTER SYSTEM SET wal_level = logical), resolves the tables and patterns,
// creates the publication if it is missing and create_publication is true,
// and creates the slot if it is missing. On a fresh start (nil position)
// with a snapshot the slot is created with EXPORT_SNAPSHOT (a slot left
// behind by an unfinished fresh start is dropped and created again), and
// the snapshot is read in a REPEATABLE READ transaction that imports it.
// Opening at a position whose slot is gone is a resync-needed error whose
// message says to run "sluice connectors reset <connector name>" to take a
// new snapshot, except with snapshot when_needed: then the slot is created
// again with an exported snapshot and a new initial snapshot (op 'r'
// events) is taken before streaming from the new slot.
//
// # Events and positions
//
// Snapshot rows are op 'r' events (Source.Snapshot "true", "last" on the
// last one) in batches of at most 1000 rows; only the last batch carries a
// position, the slot's consistent point. An interrupted snapshot has no
// stored position, so it starts again from the beginning (new slot, new
// snapshot) on the next Open: there is no chunk resume yet.
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
//   - Unchanged TOASTed values in updates are null unless the old row image
//     (REPLICA IDENTITY FULL) holds them; connect.Env.Lookup is not used.
//   - An existing publication is used as it is: tables added to the config
//     later are not added to it.
//   - Schema-change messages, and proto_version 2 streaming of in-progress
//     transactions.
//   - Ranges, geometry, domains, composite types and arrays of types whose
//     delimiter is not ',' (box[]) arrive as strings holding the text form.
//   - The heartbeat position is the message's start LSN, not its end, so
//     after a restart the last heartbeat may come once more.
//   - The snapshot is not read in key-ordered chunks, nor resumed: an
//     interrupted snapshot starts again with a new slot.
//
// # Files
//
//	config.go    the config block and its checks
//	source.go    Kind, Source, Open (preflight, slot, publication), Ack, Close
//	catalog.go   tables from patterns, the publication, column types
//	snapshot.go  the initial snapshot through the slot's exported snapshot
//	stream.go    replication, pgoutput decoding, heartbeats, status updates
//	values.go    text-format values to connect.Value
package postgres
