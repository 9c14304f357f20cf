package connect

import (
	"context"
	"errors"
	"fmt"
)

// readTopic implements Env.ReadTopic over the runtime's log.
func (r *Runtime) readTopic(ctx context.Context, topic string, fn func(Record) error) error {
	n, err := r.log.Partitions(ctx, topic)
	if errors.Is(err, ErrUnknownTopic) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read topic %q: %w", topic, err)
	}
	for p := int32(0); p < n; p++ {
		start, end, err := r.log.Offsets(ctx, topic, p)
		if err != nil {
			return fmt.Errorf("read topic %q partition %d: %w", topic, p, err)
		}
		for off := start; off < end; {
			recs, next, err := r.log.Fetch(ctx, topic, p, off, 1<<20)
			if err != nil {
				return fmt.Errorf("read topic %q partition %d at offset %d: %w", topic, p, off, err)
			}
			if next <= off {
				break // nothing more, though the end said otherwise: compacted away
			}
			for _, rec := range recs {
				if rec.Offset >= end {
					break
				}
				if err := fn(rec); err != nil {
					return err
				}
			}
			off = next
		}
	}
	return nil
}
