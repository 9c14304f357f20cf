package connect

// Op is a change event's operation, with Debezium's letters.
type Op byte

const (
	OpCreate   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpRead     Op = 'r' // a row read by a snapshot
	OpTruncate Op = 't'
)

func (o Op) String() string { return string(o) }

// Column describes one column of a table.
type Column struct {
	Name string
	// Type is the database's type name, e.g. "numeric(10,2)", "varchar(255)".
	Type string
	Kind Kind
	// Optional is true when the column is nullable.
	Optional bool
	// Precision and Scale of decimals; Length of strings and bits.
	Precision, Scale, Length int
	// Prec is the fractional-second digits of time kinds.
	Prec int8
	// Enum lists the labels of enum and set columns.
	Enum []string
	// Elem is the element kind of an array column.
	Elem Kind
}

// Table is a captured table's schema at some point of its history. A
// source shares one *Table among the events of that schema version and
// never changes it after publishing; a schema change makes a new *Table.
type Table struct {
	// Database is the database name (MySQL) or the database (Postgres);
	// Schema is the Postgres schema, empty for MySQL.
	Database, Schema, Name string
	Columns                []Column
	// Key holds the indexes in Columns of the key columns, in key order.
	// Empty for a table without a key: its records have a null key.
	Key []int
}

// SourceInfo is the source block of a change event (Debezium's "source").
type SourceInfo struct {
	// Connector is the source's kind as Debezium names it: "postgresql",
	// "mysql", "datagen".
	Connector string
	// Name is the logical server name: the topic prefix.
	Name    string
	Version string
	// TsMs is the commit time in the database, in milliseconds.
	TsMs int64
	// Snapshot is "true", "last", "false" or "incremental".
	Snapshot string
	Database string
	Schema   string
	Table    string
	// TxID is the database's transaction id, when known.
	TxID string
	// Extra holds source-specific fields in order (lsn, file, pos, gtid,
	// server_id, ...).
	Extra []Field
}

// Transaction is a change event's place in its transaction (Debezium's
// "transaction" block).
type Transaction struct {
	ID string
	// TotalOrder is the event's position among all events of the
	// transaction, from 1; DataCollectionOrder among those of its table.
	TotalOrder, DataCollectionOrder int64
}

// ChangeEvent is one committed row change, or a snapshot read.
type ChangeEvent struct {
	Op    Op
	Table *Table
	// Topic is where the event goes, normally <prefix>.<db-or-schema>.<table>.
	Topic string
	// Before and After are the row images, aligned with Table.Columns;
	// nil when absent (no before for a create, no after for a delete).
	Before, After []Value
	Source        SourceInfo
	Transaction   *Transaction
	// TsMs is when sluice processed the event, in milliseconds.
	TsMs int64
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Message is a record on its way to a topic: the topic, and its key and
// value as structured data that transforms may change and a converter then
// serializes. A nil Value is a tombstone; a nil Key a null key.
type Message struct {
	Topic     string
	Key       *Struct
	Value     *Struct
	Headers   []Header
	Timestamp int64 // milliseconds; 0 = append time
	// Event is the change event the message was made from; nil for
	// messages a source builds itself (schema changes, heartbeats).
	Event *ChangeEvent
}

// Record is a serialized record, as stored in a topic partition.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []Header
}
