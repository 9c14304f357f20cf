// Package kafkaapi serves the Kafka wire protocol over sluice's embedded
// log, so that any Kafka client (kcat and librdkafka, franz-go, kafka-go,
// the Java client) can list topics, produce, consume from offset 0 and use
// consumer groups with committed offsets.
//
// The server sees the cluster only through the Cluster interface (who
// leads which partition, which brokers exist, who coordinates a group);
// SingleNode implements it for one node and the replication package for a
// cluster.
//
// # Connections
//
// Each connection has a reader goroutine that decodes requests (franz-go's
// kmsg is the codec) and runs their handlers in arrival order, and a writer
// goroutine that sends the responses in the same order. A Produce handler
// assigns offsets and queues its write on the reader goroutine, so that a
// client's pipelined produce requests keep their order, and waits for the
// fsync on the writer goroutine, so that they share fsyncs (group commit).
// At most Options.MaxInFlight requests per connection are between the two.
// Fetch and JoinGroup block their connection while they wait, as they do
// on a Kafka broker. A malformed, truncated, oversized or unsupported
// request closes its connection with a log line and touches nothing else.
//
// # Files
//
//	server.go   Server, Options, Cluster, SingleNode, accept loop
//	conn.go     framing, request headers, the reader and writer goroutines
//	versions.go supported API versions, ApiVersions, error-code mapping
//	handle.go   request dispatch
//	metadata.go Metadata, FindCoordinator, auto topic creation
//	produce.go  Produce (decompression, idempotent producers), InitProducerId
//	fetch.go    Fetch (long polling), ListOffsets, OffsetForLeaderEpoch
//	admin.go    CreateTopics, DeleteTopics, CreatePartitions, configs
//	group*.go   the consumer-group coordinator (classic protocol)
package kafkaapi
