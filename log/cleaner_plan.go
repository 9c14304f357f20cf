package log

// The cleaner's decisions, as pure functions of a partition's segments,
// its config, its offsets and the time. No I/O here; cleaner.go acts on
// them.

// shouldRoll says whether the cleaner should close the active segment (the
// last of segs) so it can be deleted or compacted: it is non-empty and
// either older than segment.ms, or wholly expired by retention.ms and
// below the high watermark.
func shouldRoll(segs []segment, cfg TopicConfig, hw, nowMs int64) bool {
	a := segs[len(segs)-1]
	if a.Records == 0 {
		return false
	}
	if nowMs-a.CreatedMs >= cfg.SegmentMs {
		return true
	}
	return cfg.Delete && cfg.RetentionMs >= 0 && a.MaxTimestamp < nowMs-cfg.RetentionMs && a.Last < hw
}

// planRetention returns how many leading segments retention deletes. It
// never deletes the active segment nor a segment reaching the high
// watermark, and deletes only a prefix of the log.
func planRetention(segs []segment, cfg TopicConfig, hw, nowMs int64) int {
	if !cfg.Delete || len(segs) < 2 {
		return 0
	}
	var total int64
	for _, s := range segs {
		total += s.Bytes
	}
	n := 0
	for _, s := range segs[:len(segs)-1] {
		if s.Last >= hw {
			break
		}
		byTime := cfg.RetentionMs >= 0 && s.MaxTimestamp < nowMs-cfg.RetentionMs
		bySize := cfg.RetentionBytes >= 0 && total-s.Bytes >= cfg.RetentionBytes
		if !byTime && !bySize {
			break
		}
		total -= s.Bytes
		n++
	}
	return n
}

// compactionPlan is what one compaction pass of a partition does: build
// the key map from the dirty segments [dirty, end) and rewrite every
// segment below end.
type compactionPlan struct {
	dirty, end int64
	// firstDirty and endSeg index segs: dirty = segs[firstDirty].Base,
	// end = segs[endSeg].Base.
	firstDirty, endSeg int
	ratio              float64
}

// planCompaction picks the cleanable range of a partition: from the first
// uncleaned segment up to, not including, the first segment that is active,
// reaches the high watermark, or holds records newer than
// min.compaction.lag.ms. It cleans only when the dirty share of the bytes
// below that end is at least min.cleanable.dirty.ratio, or when a tombstone
// may have expired (force).
func planCompaction(segs []segment, cfg TopicConfig, hw, cleanedTo, nowMs int64, force bool) (compactionPlan, bool) {
	if !cfg.Compact || len(segs) < 2 {
		return compactionPlan{}, false
	}
	endSeg := 0
	for endSeg < len(segs)-1 {
		s := segs[endSeg]
		if s.Last >= hw || (s.Records > 0 && s.MaxTimestamp > nowMs-cfg.MinCompactionLagMs) {
			break
		}
		endSeg++
	}
	if endSeg == 0 {
		return compactionPlan{}, false
	}
	firstDirty := 0
	for firstDirty < endSeg && segs[firstDirty].Base < cleanedTo && segs[firstDirty+1].Base <= cleanedTo {
		firstDirty++
	}
	var cleanBytes, dirtyBytes int64
	for i := 0; i < endSeg; i++ {
		if i < firstDirty {
			cleanBytes += segs[i].Bytes
		} else {
			dirtyBytes += segs[i].Bytes
		}
	}
	p := compactionPlan{dirty: segs[firstDirty].Base, end: segs[endSeg].Base, firstDirty: firstDirty, endSeg: endSeg}
	if dirtyBytes+cleanBytes > 0 {
		p.ratio = float64(dirtyBytes) / float64(dirtyBytes+cleanBytes)
	}
	if firstDirty == endSeg {
		// Nothing new; clean only to expire tombstones.
		return p, force && cleanBytes > 0
	}
	return p, force || p.ratio >= cfg.MinCleanableDirtyRatio
}
