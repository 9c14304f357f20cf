package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/sluice-cdc/sluice/connect"
)

// openFiles is the files the sinks of one Kind have open, by absolute
// path, so that the tasks of a per_topic connector (and connectors that
// share a path) append to one handle, one Write at a time, instead of
// interleaving their lines or rotating under each other.
//
// Lock order: openFiles.mu, then a file's mu; the file's I/O happens under
// its own mu only, except opening, which happens under openFiles.mu.
type openFiles struct {
	mu    sync.Mutex
	files map[string]*outFile
}

// outFile is one JSON-lines file being appended to.
type outFile struct {
	path string
	refs int // guarded by openFiles.mu

	mu struct {
		sync.Mutex
		f       *os.File // nil after a failed rotation: the next write reopens
		size    int64    // bytes in f
		rotated int      // the highest rotation suffix in use: path.1, path.2, ...
		syncs   int      // fsyncs done, for tests
	}
}

// acquire returns the file at path, opening it the first time.
func (o *openFiles) acquire(path string, fsync bool, log *slog.Logger) (*outFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, classify(err, path)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if f, ok := o.files[abs]; ok {
		f.refs++
		return f, nil
	}
	f := &outFile{path: abs}
	f.mu.rotated = highestRotation(abs)
	if err := f.open(fsync, log); err != nil {
		return nil, err
	}
	if o.files == nil {
		o.files = map[string]*outFile{}
	}
	f.refs = 1
	o.files[abs] = f
	return f, nil
}

// release drops a reference to f, closing it after the last one.
func (o *openFiles) release(f *outFile) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if f.refs--; f.refs > 0 {
		return nil
	}
	delete(o.files, f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.f == nil {
		return nil
	}
	err := f.mu.f.Close()
	f.mu.f = nil
	if err != nil {
		return classify(err, f.path)
	}
	return nil
}

// open opens (creating) f's path for appending, with its parent
// directories, and cuts a partial last line: one a crash left half
// written, whose Write therefore never returned and will come again.
// The caller holds f.mu or is its only user.
func (f *outFile) open(fsync bool, log *slog.Logger) error {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return classify(err, f.path)
	}
	_, statErr := os.Stat(f.path)
	created := errors.Is(statErr, fs.ErrNotExist)
	h, err := os.OpenFile(f.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return classify(err, f.path)
	}
	st, err := h.Stat()
	if err != nil {
		h.Close()
		return classify(err, f.path)
	}
	if st.IsDir() {
		h.Close()
		return classify(&fs.PathError{Op: "open", Path: f.path, Err: syscall.EISDIR}, f.path)
	}
	size := st.Size()
	if st.Mode().IsRegular() && size > 0 {
		keep, err := completeLines(h, size)
		if err != nil {
			h.Close()
			return classify(err, f.path)
		}
		if keep < size {
			if err := h.Truncate(keep); err != nil {
				h.Close()
				return classify(err, f.path)
			}
			log.Warn("file sink: cut a partial last line left by a crash; its records come again", "path", f.path, "bytes", size-keep)
			size = keep
		}
	}
	if created && fsync {
		if err := syncDir(dir); err != nil {
			h.Close()
			return classify(err, dir)
		}
	}
	f.mu.f, f.mu.size = h, size
	return nil
}

// completeLines returns the length of h's content up to and including its
// last "\n".
func completeLines(h *os.File, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 {
		n := min(int64(len(buf)), end)
		chunk := buf[:n]
		if _, err := h.ReadAt(chunk, end-n); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

// write appends data, whole lines ending at the offsets in ends, rotating
// first whenever the next lines would take the file past rotate bytes, and
// fsyncs when fsync is set. On an error it cuts the file back to its last
// complete write.
func (f *outFile) write(data []byte, ends []int, rotate int64, fsync bool, log *slog.Logger) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.f == nil {
		if err := f.open(fsync, log); err != nil {
			return err
		}
	}
	startSize, startRotated := f.mu.size, f.mu.rotated
	// undo leaves nothing of a failed write behind for the retry to
	// duplicate (best effort), or at least no partial line.
	undo := func(err error) error {
		if f.mu.rotated == startRotated {
			f.mu.size = startSize
		}
		_ = f.mu.f.Truncate(f.mu.size)
		return classify(err, f.path)
	}
	start, next := 0, 0 // next: the index in ends of the first line not written
	for start < len(data) {
		end := len(data)
		if rotate > 0 {
			// As many lines as fit; at least one, in a fresh file.
			room := rotate - f.mu.size
			j := next
			for j < len(ends) && int64(ends[j]-start) <= room {
				j++
			}
			if j == next {
				if f.mu.size > 0 {
					if err := f.rotate(fsync, log); err != nil {
						return err
					}
					continue
				}
				j++ // a line longer than rotate_bytes gets a file to itself
			}
			end, next = ends[j-1], j
		}
		if _, err := f.mu.f.Write(data[start:end]); err != nil {
			return undo(err)
		}
		f.mu.size += int64(end - start)
		start = end
	}
	if fsync {
		if err := f.mu.f.Sync(); err != nil {
			return undo(err)
		}
		f.mu.syncs++
	}
	return nil
}

// rotate renames the file to the next "path.N" and starts a new one. The
// caller holds f.mu.
func (f *outFile) rotate(fsync bool, log *slog.Logger) error {
	if fsync {
		if err := f.mu.f.Sync(); err != nil {
			return classify(err, f.path)
		}
		f.mu.syncs++
	}
	old := f.mu.f
	f.mu.f = nil
	if err := old.Close(); err != nil {
		return classify(err, f.path)
	}
	n := f.mu.rotated + 1
	to := f.path + "." + strconv.Itoa(n)
	if err := os.Rename(f.path, to); err != nil {
		return classify(err, f.path)
	}
	f.mu.rotated = n
	log.Info("file sink: rotated", "path", f.path, "to", to)
	return f.open(fsync, log)
}

// highestRotation returns the highest N of the files "path.N".
func highestRotation(path string) int {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return 0
	}
	prefix := filepath.Base(path) + "."
	high := 0
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(s); err == nil && n > high && strconv.Itoa(n) == s {
			high = n
		}
	}
	return high
}

// syncDir fsyncs a directory, so that a file created or renamed in it
// stays after a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// classify marks an I/O error on path with what the runtime should do:
// a permission or path problem is fatal, naming the fix; anything else
// (disk full, an I/O error) may clear and is retriable.
func classify(err error, path string) error {
	var hint string
	switch {
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		hint = fmt.Sprintf("give the user sluice runs as write access to %q, or change config.path", filepath.Dir(path))
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENAMETOOLONG),
		errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EEXIST):
		hint = fmt.Sprintf("config.path must name a file, or a directory with per_topic: true, in directories that exist or can be created; check %q", path)
	default:
		return connect.Retriable(fmt.Errorf("%w; the sink will retry", err))
	}
	return connect.Fatal(fmt.Errorf("%w; %s", err, hint))
}
