package connect

import (
	"context"
	"fmt"
	"math"
	"sort"
)

// offsets returns the connector's stored offsets in KIP-875's shape.
func (c *connector) offsets(ctx context.Context) (Offsets, error) {
	out := Offsets{Offsets: []OffsetEntry{}}
	if c.role == RoleSource {
		pos, ok, err := c.r.log.Meta(ctx, positionKey(c.name))
		if err != nil {
			return out, err
		}
		if ok {
			out.Offsets = append(out.Offsets, OffsetEntry{
				Partition: map[string]any{"server": c.name},
				Offset:    map[string]any{"position": string(pos)},
			})
		}
		return out, nil
	}
	offs, err := c.r.log.FetchOffsets(ctx, group(c.name))
	if err != nil {
		return out, err
	}
	sort.Slice(offs, func(i, j int) bool {
		if offs[i].Topic != offs[j].Topic {
			return offs[i].Topic < offs[j].Topic
		}
		return offs[i].Partition < offs[j].Partition
	})
	for _, o := range offs {
		out.Offsets = append(out.Offsets, OffsetEntry{
			Partition: map[string]any{"kafka_topic": o.Topic, "kafka_partition": o.Partition},
			Offset:    map[string]any{"kafka_offset": o.Offset},
		})
	}
	return out, nil
}

// alterOffsets writes offsets for a stopped connector. A source takes one
// entry whose offset has "position" (the position text the source wrote;
// null deletes it); a sink takes entries with kafka_topic,
// kafka_partition and kafka_offset.
func (c *connector) alterOffsets(ctx context.Context, o Offsets) error {
	if err := c.requireStopped(); err != nil {
		return err
	}
	if c.role == RoleSource {
		if len(o.Offsets) != 1 {
			return fmt.Errorf("%w: a source connector has one offset entry ({\"partition\":{\"server\":%q},\"offset\":{\"position\":...}}), got %d", ErrBadOffsets, c.name, len(o.Offsets))
		}
		pos, ok := o.Offsets[0].Offset["position"]
		var val []byte
		switch p := pos.(type) {
		case string:
			val = []byte(p)
		case nil:
			if ok && o.Offsets[0].Offset != nil {
				val = nil
			}
		default:
			return fmt.Errorf("%w: offset.position must be a string, got %T", ErrBadOffsets, pos)
		}
		return c.r.log.Append(ctx, nil, map[string][]byte{positionKey(c.name): val, partialKey(c.name): nil})
	}
	var offs []GroupOffset
	for i, e := range o.Offsets {
		topic, _ := e.Partition["kafka_topic"].(string)
		part, okp := number(e.Partition["kafka_partition"])
		off, oko := number(e.Offset["kafka_offset"])
		if topic == "" || !okp || !oko || part < 0 || part > math.MaxInt32 || off < 0 {
			return fmt.Errorf("%w: entry %d needs partition.kafka_topic (string), partition.kafka_partition and offset.kafka_offset (non-negative integers)", ErrBadOffsets, i)
		}
		offs = append(offs, GroupOffset{Topic: topic, Partition: int32(part), Offset: off})
	}
	return c.r.log.CommitOffsets(ctx, group(c.name), offs)
}

// number accepts the JSON numbers a decoded request holds.
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) {
			return 0, false
		}
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case interface{ Int64() (int64, error) }:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// resetOffsets deletes a stopped connector's offsets.
func (c *connector) resetOffsets(ctx context.Context) error {
	if err := c.requireStopped(); err != nil {
		return err
	}
	if c.role == RoleSource {
		return c.r.log.Append(ctx, nil, map[string][]byte{positionKey(c.name): nil, partialKey(c.name): nil})
	}
	return c.r.log.DeleteOffsets(ctx, group(c.name))
}
