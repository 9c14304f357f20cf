package file

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
)

// KindName is the connector kind's name in config files.
const KindName = "file-sink"

// Kind is the file-sink connector kind. The sinks one Kind builds share
// their open files (see openFiles): register one Kind per process.
type Kind struct {
	files openFiles
}

// New returns the file-sink kind, for a connect.Registry.
func New() *Kind { return &Kind{} }

var _ connect.SinkKind = (*Kind)(nil)

func (*Kind) Name() string       { return KindName }
func (*Kind) Role() connect.Role { return connect.RoleSink }

// Check reports every problem of c's config block.
func (*Kind) Check(c *configs.Connector) []configs.Problem {
	_, problems := ParseConfig(c)
	return problems
}

// Tasks is tasks_max with per_topic (each task writes the files of the
// topics it receives), else 1: one file, one writer.
func (*Kind) Tasks(c *configs.Connector) int {
	cfg, _ := ParseConfig(c)
	if cfg.PerTopic {
		return max(c.TasksMax, 1)
	}
	return min(c.TasksMax, 1)
}

// NewSink builds a sink from c. A config with problems is a fatal error.
func (k *Kind) NewSink(c *configs.Connector, env connect.Env) (connect.Sink, error) {
	cfg, problems := ParseConfig(c)
	if len(problems) > 0 {
		return nil, connect.Fatal(fmt.Errorf("%s %q: invalid config: %w", KindName, c.Name, &configs.Error{Problems: problems}))
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sink{kind: k, name: c.Name, cfg: cfg, log: log, files: map[string]*outFile{}}, nil
}

// Sink writes records as JSON lines. One task's Sink is used by one
// goroutine at a time, as connect.Sink says; Sinks of several tasks share
// files through their Kind.
type Sink struct {
	kind *Kind
	name string
	cfg  Config
	log  *slog.Logger

	files   map[string]*outFile // by topic; "" with a single file
	pending []*pending          // scratch of Write, reused
}

// pending is what one Write appends to one file.
type pending struct {
	file *outFile
	data []byte
	ends []int // where each line ends in data
}

var _ connect.Sink = (*Sink)(nil)

// Open creates the directories and, without per_topic, opens the file.
func (s *Sink) Open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.cfg.PerTopic {
		if err := os.MkdirAll(s.cfg.Path, 0o755); err != nil {
			return s.wrap(classify(err, s.cfg.Path))
		}
		return nil
	}
	_, err := s.file("")
	return err
}

func (s *Sink) wrap(err error) error {
	return fmt.Errorf("%s %q: %w", KindName, s.name, err)
}

// topicFile is what a topic name must look like to name a file.
var topicFile = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// file returns the file records of topic go to, opening it the first time.
func (s *Sink) file(topic string) (*outFile, error) {
	if !s.cfg.PerTopic {
		topic = ""
	}
	if f, ok := s.files[topic]; ok {
		return f, nil
	}
	path := s.cfg.Path
	if s.cfg.PerTopic {
		if !topicFile.MatchString(topic) || topic == "." || topic == ".." {
			return nil, s.wrap(connect.Fatal(fmt.Errorf("topic %q cannot name a file in %q; per_topic needs topic names of letters, digits, '.', '_' and '-'", topic, s.cfg.Path)))
		}
		path = filepath.Join(path, topic+".jsonl")
	}
	f, err := s.kind.files.acquire(path, s.cfg.Fsync, s.log)
	if err != nil {
		return nil, s.wrap(err)
	}
	s.files[topic] = f
	return f, nil
}

// Write appends one line per record and returns once they are written,
// and fsynced when fsync is on. Records of a file are written in the
// order given, in one write per file (and per rotation).
func (s *Sink) Write(ctx context.Context, records []connect.SinkRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(records) == 0 {
		return nil
	}
	for _, p := range s.pending {
		p.file, p.data, p.ends = nil, p.data[:0], p.ends[:0]
	}
	used := 0
	for i := range records {
		r := &records[i]
		f, err := s.file(r.Topic)
		if err != nil {
			return err
		}
		var p *pending
		for _, q := range s.pending[:used] {
			if q.file == f {
				p = q
				break
			}
		}
		if p == nil {
			if used == len(s.pending) {
				s.pending = append(s.pending, &pending{})
			}
			p = s.pending[used]
			p.file = f
			used++
		}
		p.data = appendLine(p.data, r)
		p.ends = append(p.ends, len(p.data))
	}
	for _, p := range s.pending[:used] {
		if err := p.file.write(p.data, p.ends, s.cfg.RotateBytes, s.cfg.Fsync, s.log); err != nil {
			return s.wrap(err)
		}
	}
	return nil
}

// Close releases the sink's files; the last sink of a file closes it.
func (s *Sink) Close() error {
	var first error
	for topic, f := range s.files {
		if err := s.kind.files.release(f); err != nil && first == nil {
			first = s.wrap(err)
		}
		delete(s.files, topic)
	}
	return first
}
