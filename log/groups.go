package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// GroupOffset is a consumer group's committed offset for one partition.
type GroupOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	// CommitTimeMs is set by CommitOffsets.
	CommitTimeMs int64
}

func checkGroupName(group string) error {
	if group == "" || strings.IndexByte(group, 0) >= 0 {
		return fmt.Errorf("%w: group id %q must be non-empty and contain no NUL byte", ErrInvalidRecord, group)
	}
	return nil
}

// CommitOffsets stores a group's offsets durably, in one write.
func (l *Log) CommitOffsets(group string, offsets []GroupOffset) error {
	if err := l.writable(); err != nil {
		return err
	}
	if err := checkGroupName(group); err != nil {
		return err
	}
	now := l.now().UnixMilli()
	b := l.db.NewBatch()
	defer b.Close()
	for _, o := range offsets {
		if strings.IndexByte(o.Topic, 0) >= 0 {
			return fmt.Errorf("%w: topic %q", ErrInvalidTopic, o.Topic)
		}
		v := make([]byte, 20, 20+len(o.Metadata))
		binary.BigEndian.PutUint64(v[0:], uint64(o.Offset))
		binary.BigEndian.PutUint32(v[8:], uint32(o.LeaderEpoch))
		binary.BigEndian.PutUint64(v[12:], uint64(now))
		v = append(v, o.Metadata...)
		_ = b.Set(groupKey(group, o.Topic, o.Partition), v, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return l.fail(fmt.Errorf("commit offsets of group %q: %w", group, err))
	}
	return nil
}

// FetchOffsets returns every committed offset of a group.
func (l *Log) FetchOffsets(group string) ([]GroupOffset, error) {
	if err := checkGroupName(group); err != nil {
		return nil, err
	}
	lo := groupPrefix(group)
	iter, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	var out []GroupOffset
	for iter.First(); iter.Valid(); iter.Next() {
		o, err := decodeGroupOffset(iter.Key()[len(lo):], iter.Value())
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", group, err)
		}
		out = append(out, o)
	}
	return out, iter.Error()
}

func decodeGroupOffset(rest, v []byte) (GroupOffset, error) {
	i := bytes.IndexByte(rest, 0)
	if i < 0 || len(rest) != i+5 || len(v) < 20 {
		return GroupOffset{}, fmt.Errorf("%w: malformed committed offset entry", ErrCorrupt)
	}
	return GroupOffset{
		Topic:        string(rest[:i]),
		Partition:    int32(binary.BigEndian.Uint32(rest[i+1:])),
		Offset:       int64(binary.BigEndian.Uint64(v[0:])),
		LeaderEpoch:  int32(binary.BigEndian.Uint32(v[8:])),
		CommitTimeMs: int64(binary.BigEndian.Uint64(v[12:])),
		Metadata:     string(v[20:]),
	}, nil
}

// Groups lists the groups that have committed offsets.
func (l *Log) Groups() ([]string, error) {
	iter, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixGroup}, UpperBound: []byte{prefixGroup + 1}})
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	var out []string
	for ok := iter.First(); ok; {
		k := iter.Key()[1:]
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			return nil, fmt.Errorf("%w: malformed group key", ErrCorrupt)
		}
		g := string(k[:i])
		out = append(out, g)
		ok = iter.SeekGE(prefixEnd(groupPrefix(g)))
	}
	return out, iter.Error()
}

// DeleteGroupOffsets removes a group's committed offsets: all of them when
// topics is empty, else those of the named topics.
func (l *Log) DeleteGroupOffsets(group string, topics ...string) error {
	if err := l.writable(); err != nil {
		return err
	}
	if err := checkGroupName(group); err != nil {
		return err
	}
	b := l.db.NewBatch()
	defer b.Close()
	if len(topics) == 0 {
		lo := groupPrefix(group)
		_ = b.DeleteRange(lo, prefixEnd(lo), nil)
	}
	for _, t := range topics {
		lo := append(groupPrefix(group), t...)
		lo = append(lo, 0)
		_ = b.DeleteRange(lo, prefixEnd(lo), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return l.fail(fmt.Errorf("delete offsets of group %q: %w", group, err))
	}
	return nil
}

// deleteGroupOffsetsOf adds to b the deletion of every group's offsets for
// topic.
func (l *Log) deleteGroupOffsetsOf(b *pebble.Batch, topic string) error {
	groups, err := l.Groups()
	if err != nil {
		return err
	}
	for _, g := range groups {
		lo := append(groupPrefix(g), topic...)
		lo = append(lo, 0)
		_ = b.DeleteRange(lo, prefixEnd(lo), nil)
	}
	return nil
}
