package pgtest

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// sharedPrefix begins the names of shared servers' directories; the ID
// of the test process follows, so that a later one can tell them
// abandoned.
const sharedPrefix = "pgtest-shared-"

// shared holds the servers that the tests of this process share, one
// per distinct Options.
var shared struct {
	mu      sync.Mutex
	used    bool // Shared was called, so StopShared will be
	stopped bool
	servers map[string]*sharedServer
}

type sharedServer struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the server, started with opts, that every test of this
// process passing equal opts shares; the first call starts it. Each test
// makes a database of its own on it with CreateDatabase, and must not
// stop, kill or restart it: a test that does needs Start. The package's
// TestMain must call StopShared once m.Run returns.
func Shared(t testing.TB, opts *Options) *Server {
	t.Helper()
	bin := Binary(t)
	key := optionsKey(opts)
	shared.mu.Lock()
	if shared.stopped {
		shared.mu.Unlock()
		t.Fatal("pgtest: Shared called after StopShared")
	}
	shared.used = true
	if shared.servers == nil {
		shared.servers = map[string]*sharedServer{}
	}
	ss := shared.servers[key]
	if ss == nil {
		ss = &sharedServer{}
		shared.servers[key] = ss
	}
	shared.mu.Unlock()
	ss.once.Do(func() {
		sweep()
		ss.srv, ss.err = boot(bin, opts, fmt.Sprintf("%s%d-", sharedPrefix, os.Getpid()))
	})
	if ss.err != nil {
		t.Fatalf("pgtest: shared server: %v", ss.err)
	}
	return ss.srv
}

// StopShared kills the shared servers and removes their directories and
// the cluster that servers of this process were copied from. Call it
// from TestMain after m.Run; later calls of Shared fail.
func StopShared() {
	defer removeCluster()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.stopped = true
	for _, ss := range shared.servers {
		// Waits for a start still under way, and keeps any other from
		// beginning.
		ss.once.Do(func() { ss.err = errors.New("stopped") })
		if ss.srv != nil {
			ss.srv.remove()
		}
	}
	shared.servers = nil
}

// optionsKey identifies the server opts describe.
func optionsKey(opts *Options) string {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "listen=%s trust=%v", o.Listen, o.Trust)
	for _, k := range slices.Sorted(maps.Keys(o.Settings)) {
		fmt.Fprintf(&b, " %s=%s", k, o.Settings[k])
	}
	return b.String()
}

// sweep removes the directories of shared servers and initdb clusters
// whose test process died without calling StopShared (a panic, a
// timeout), once neither it nor the server lives.
func sweep() {
	for _, prefix := range []string{sharedPrefix, clusterPrefix} {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
		for _, dir := range dirs {
			owner, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), prefix), "-")
			pid, err := strconv.Atoi(owner)
			if err != nil || alive(pid) || alive(postmaster(dir)) {
				continue
			}
			os.RemoveAll(dir)
		}
	}
}

// postmaster returns the process ID that the server in dir last ran as,
// or 0.
func postmaster(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(line)
	return pid
}
