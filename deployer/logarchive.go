package deployer

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Archive bounds: the engine's own log files go with their container, so
// the output of an instance is copied here just before its container is
// removed (a failed revision's crash, an old revision's last words), and
// the archive of a service is kept under these limits, oldest out first.
const (
	archiveTailLines   = 5000
	archiveFileBytes   = 1 << 20
	archiveMaxFiles    = 50
	archiveMaxSvcBytes = 20 << 20
)

// safeID is what an ID from a container label must look like before it
// becomes part of a path: labels are apprun's own, but a path is never
// built from a string that was not checked.
var safeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// remove archives an instance's output, then removes its container.
func (d *Deployer) remove(ctx context.Context, i Instance) error {
	d.archiveLogs(ctx, i)
	return d.cfg.Runtime.Remove(ctx, i.ID)
}

func (d *Deployer) archiveLogs(ctx context.Context, i Instance) {
	if d.cfg.LogDir == "" {
		return
	}
	svc, rev, proc := i.Labels[LabelService], i.Labels[LabelRevision], i.Labels[LabelProcess]
	if !safeID.MatchString(svc) || !safeID.MatchString(rev) || !safeID.MatchString(proc) || !safeID.MatchString(i.Name) {
		return
	}
	dir := filepath.Join(d.cfg.LogDir, svc)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		d.log.Warn("archiving an instance's logs", "instance", i.Name, "err", err)
		return
	}
	path := filepath.Join(dir, rev+"--"+proc+"--"+i.Name+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		d.log.Warn("archiving an instance's logs", "instance", i.Name, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = d.cfg.Runtime.Logs(ctx, i.ID, LogOptions{Tail: archiveTailLines, Timestamps: true}, &limitedWriter{w: f, n: archiveFileBytes})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.log.Debug("archiving an instance's logs", "instance", i.Name, "err", err)
	}
	pruneArchive(dir)
}

// pruneArchive keeps a service's archive under its bounds.
func pruneArchive(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type file struct {
		path string
		size int64
		mod  time.Time
	}
	var files []file
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		files = append(files, file{filepath.Join(dir, e.Name()), info.Size(), info.ModTime()})
		total += info.Size()
	}
	slices.SortFunc(files, func(a, b file) int { return a.mod.Compare(b.mod) })
	for len(files) > archiveMaxFiles || (total > archiveMaxSvcBytes && len(files) > 1) {
		_ = os.Remove(files[0].path)
		total -= files[0].size
		files = files[1:]
	}
}

// archivedLines reads the archived output of a service's removed
// instances that match the query.
func (d *Deployer) archivedLines(serviceID string, q LogQuery) []LogLine {
	if d.cfg.LogDir == "" || !safeID.MatchString(serviceID) {
		return nil
	}
	dir := filepath.Join(d.cfg.LogDir, serviceID)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []LogLine
	for _, e := range entries {
		parts := strings.SplitN(strings.TrimSuffix(e.Name(), ".log"), "--", 3)
		if len(parts) != 3 || (q.Revision != "" && parts[0] != q.Revision) || (q.Process != "" && parts[1] != q.Process) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		w := newLineWriter(Instance{Name: parts[2], Labels: map[string]string{LabelRevision: parts[0], LabelProcess: parts[1]}}, nil)
		_, _ = w.Write(data)
		w.flush()
		for _, l := range w.collected {
			if q.Since.IsZero() || !l.Time.Before(q.Since) {
				out = append(out, l)
			}
		}
	}
	return out
}
