// Package file is the file-sink connector: it appends the records of its
// topics to files as JSON lines, one record per line.
//
// # Configuration
//
//	connectors:
//	  - name: orders-file
//	    kind: file-sink
//	    topics: [shop.public.orders]
//	    config:
//	      path: ./out/orders.jsonl   # required
//	      per_topic: false           # true: path is a directory of <topic>.jsonl files. Default: false
//	      rotate_bytes: 0            # rotate before a file passes this size; 0 = never. Default: 0
//	      fsync: true                # fsync before each Write returns. Default: true
//
// path is the file to append to; its parent directories are created. With
// per_topic: true it is a directory (created too), and the records of each
// topic go to "<path>/<topic>.jsonl".
//
// rotate_bytes: before a write would take a file past this many bytes, the
// file is renamed to "<file>.1" (then ".2", ".3", ...: the higher the
// number, the newer the file; the file without a suffix is the newest) and
// a new one is started. Rotation happens between lines; a single line longer
// than rotate_bytes gets a file to itself. After a restart numbering goes on
// from the highest suffix found.
//
// fsync: with true (the default) a Write fsyncs every file it wrote (and,
// when it created or rotated a file, its directory) before it returns, so a
// record is on disk before the runtime commits its offset. With false the
// data is in the operating system's cache when Write returns, and a power
// loss may lose the last records although their offsets are committed.
//
// # Line format
//
//	{"topic":"shop.public.orders","partition":0,"offset":42,"timestamp":1700000000000,
//	 "key":{"id":7},"value":{"before":null,"after":{...},"op":"c",...},
//	 "headers":[{"key":"h","value":"v"}]}
//
// (one line in the file). key and value are the record's bytes, embedded
// as JSON when they are a JSON object or array (as written when it is on
// one line already, else compacted so that the record stays on one line), else a
// JSON string when they are UTF-8 text, else base64 text with
// "key_encoding":"base64" or "value_encoding":"base64" after them. A null
// key is null, and a tombstone's value is null: "value":null. JSON
// scalars (42, "x", null) are written as text, so that a line always tells
// the bytes apart: the value 'null' is "null", a tombstone null. Header
// values are strings, base64 with "value_encoding":"base64" inside the
// header, or null.
//
// # Delivery
//
// Write returns only after its records are written (and fsynced with fsync
// on); then the runtime commits the group offsets past them. Files are
// opened in append mode and never truncated, so a restart appends: delivery
// is at-least-once, and the records after the last committed offset — the
// last Write before a crash or a failed Write's batch retried — may appear
// twice. Readers that need each record once deduplicate by (topic,
// partition, offset), which every line carries.
//
// A crash can leave the last line half written; it belongs to a Write that
// never returned, whose records come again. Opening a file cuts such a
// partial last line (and logs a warning), and a failed Write cuts what it
// had appended, so that lines stay whole.
//
// # Errors
//
// An I/O error that may clear (disk full, an I/O error) is retriable; a
// permission or path error (permission denied, read-only file system, a
// path through a file, a directory where the file should be) is fatal,
// naming the path and the fix.
//
// # Tasks
//
// Without per_topic the sink runs one task: one file has one writer. With
// per_topic it runs tasks_max tasks, each writing the files of the topics
// it receives. The sinks built by one Kind share open files by absolute
// path, each file guarded by a mutex, so two tasks (or connectors) that
// receive partitions of the same topic append whole Writes to one handle,
// one at a time. Separate processes must not share a path.
package file
