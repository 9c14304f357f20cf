package connect

// rawConverter is the "raw" converter, for sinks that want the bytes of
// records as they are (a file or HTTP sink forwarding records, records
// produced by other Kafka clients). Encode writes what the json converter
// writes: a source has nothing rawer than its structured messages. Decode
// returns the key and value bytes unchanged, as []byte, or nil for a null
// key and a tombstone.
type rawConverter struct{}

func (rawConverter) Name() string { return "raw" }

func (rawConverter) Encode(m *Message) (key, value []byte, err error) {
	return jsonConverter{}.Encode(m)
}

func (rawConverter) Decode(r *Record) (key, value any, err error) {
	if r.Key != nil {
		key = r.Key
	}
	if r.Value != nil {
		value = r.Value
	}
	return key, value, nil
}
