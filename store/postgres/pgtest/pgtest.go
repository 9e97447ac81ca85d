// Package pgtest starts throwaway PostgreSQL servers for tests: initdb in
// a temporary directory, then postgres on a free loopback port with its
// Unix socket in that directory, removed when the test ends. When the
// test runs as root, the server runs as an unprivileged system user
// (postgres, else nobody), since PostgreSQL refuses to run as root.
//
// Start gives a test a server of its own, to stop, kill or reconfigure.
// Tests that need only a database share a server per test process
// instead (Shared), each creating a database of its own on it, empty or
// copied from a prepared template (CreateDatabaseFrom); the package's
// TestMain then calls StopShared.
//
// When the PostgreSQL binaries are not installed (searched on PATH, then
// in /usr/lib/postgresql/*/bin) the calling test is skipped, unless the
// environment sets CONSOLIDATE_REQUIRE_POSTGRES=1 (as CI does), which
// turns the skip into a failure.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RequireEnv names the environment variable that, set to 1, makes missing
// PostgreSQL binaries fail tests instead of skipping them.
const RequireEnv = "CONSOLIDATE_REQUIRE_POSTGRES"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 30 * time.Second

// Options configures a Server. The zero value is ready to use.
type Options struct {
	// Settings are extra server settings, passed as -c name=value. The
	// defaults are PostgreSQL's own, fsync and synchronous_commit on
	// included, with max_connections raised to 300.
	Settings map[string]string
	// Listen is the address the server listens on. Defaults to
	// 127.0.0.1.
	Listen string
	// Trust lists networks (CIDR, such as 10.77.0.0/24) whose clients
	// may connect, and stream replication, without a password. Loopback
	// clients always may.
	Trust []string
}

// Server is one postgres process with its own data directory. Its
// superuser is postgres, with trust authentication.
type Server struct {
	// Host and Port are where the server listens for TCP connections.
	Host string
	Port int
	// Dir holds the data directory, the Unix socket and the log.
	Dir string

	bin  string
	cred *credential
	args []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	created atomic.Int64

	tmu       sync.Mutex // guards templates, admin and closed
	templates map[string]*template
	admin     *pgxpool.Pool
	closed    bool // by remove: exec makes no new pool
}

// Binary returns the directory of the PostgreSQL binaries, or skips (or
// fails) t when they are absent.
func Binary(t testing.TB) string {
	t.Helper()
	dir, err := binDir()
	if err == nil {
		return dir
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("pgtest: %v and %s=1", err, RequireEnv)
	}
	t.Skipf("pgtest: %v; set %s=1 to make this a failure", err, RequireEnv)
	return ""
}

// binDir finds the directory holding both initdb and postgres.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		// A link on PATH leads to the directory that holds the other
		// binaries too (pg_basebackup for a standby).
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	// Debian and Ubuntu keep them off PATH, one directory per version.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("initdb and postgres not found on PATH or in /usr/lib/postgresql/*/bin")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start runs initdb in a new temporary directory (or, in a process that
// calls Shared, copies what one initdb made) and starts a server on a
// free port, waiting until it accepts connections. The server is killed
// and its directory removed when t ends.
func Start(t testing.TB, opts *Options) *Server {
	t.Helper()
	s, err := boot(Binary(t), opts, "pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(s.remove)
	return s
}

// boot makes a server in a new temporary directory, named by pattern as
// os.MkdirTemp names it, and starts it, leaving nothing behind when it
// fails.
func boot(bin string, opts *Options, pattern string) (*Server, error) {
	s, o, err := newServer(bin, opts, pattern)
	if err != nil {
		return nil, err
	}
	if err = s.initdb(o.Trust); err == nil {
		err = s.launch(o)
	}
	if err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

// newServer makes the temporary directory of a server that has no data
// directory yet, owned by the user it will run as.
func newServer(bin string, opts *Options, pattern string) (*Server, Options, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1"
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, o, err
	}
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return nil, o, err
	}
	if err := cred.own(dir); err != nil {
		os.RemoveAll(dir)
		return nil, o, err
	}
	return &Server{Host: o.Listen, Dir: dir, bin: bin, cred: cred}, o, nil
}

// launch starts the server on its data directory and a free port.
func (s *Server) launch(o Options) error {
	// A free port can be taken by someone else between the probe and the
	// server's bind; a few attempts make that race harmless.
	for attempt := 0; ; attempt++ {
		var err error
		if s.Port, err = freePort(o.Listen); err != nil {
			return err
		}
		s.args = serverArgs(s, o)
		if err = s.start(); err == nil || attempt == 2 {
			return err
		}
	}
}

// remove kills the server and removes its directory.
func (s *Server) remove() {
	s.closeAdmin()
	s.Kill()
	os.RemoveAll(s.Dir)
}

// initdb makes s's data directory, as a copy of the process's cluster
// where it keeps one, and trusts the networks trust.
func (s *Server) initdb(trust []string) error {
	copied, err := s.fromCluster()
	if err != nil {
		return fmt.Errorf("copy the initdb cluster: %w", err)
	}
	if !copied {
		if err := s.runInitdb(); err != nil {
			return err
		}
	}
	if len(trust) == 0 {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(s.dataDir(), "pg_hba.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	for _, network := range trust {
		if _, _, err := net.ParseCIDR(network); err != nil {
			f.Close()
			return fmt.Errorf("trusted network: %w", err)
		}
		fmt.Fprintf(f, "host all all %[1]s trust\nhost replication all %[1]s trust\n", network)
	}
	return f.Close()
}

func (s *Server) runInitdb() error {
	cmd := exec.Command(filepath.Join(s.bin, "initdb"), "-D", s.dataDir(), "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	s.cred.apply(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

func serverArgs(s *Server, o Options) []string {
	settings := map[string]string{
		"listen_addresses":        o.Listen,
		"port":                    strconv.Itoa(s.Port),
		"unix_socket_directories": s.Dir,
		"max_connections":         "300",
	}
	for k, v := range o.Settings {
		settings[k] = v
	}
	args := []string{"-D", s.dataDir()}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range settings {
			if !yield(k) {
				return
			}
		}
	}) {
		args = append(args, "-c", k+"="+settings[k])
	}
	return args
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }
func (s *Server) logPath() string { return filepath.Join(s.Dir, "postgres.log") }

// start starts the postgres process on the existing data directory and
// waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("server already running")
	}
	logFile, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), s.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	s.cred.apply(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	if err := s.waitReady(done); err != nil {
		// Reap it, so that launch may try again on another port.
		s.signal(killSignal)
		<-done
		s.cmd, s.done = nil, nil
		return fmt.Errorf("%w\n%s", err, s.log())
	}
	return nil
}

// waitReady connects until the server answers as this one, or exits.
func (s *Server) waitReady(done chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("postgres on port %d exited during start-up", s.Port)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			// Another test's server may have bound the port first; only
			// ours serves this data directory.
			var dir string
			if err = conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir); err == nil && dir != s.dataDir() {
				err = fmt.Errorf("port %d is served from %s", s.Port, dir)
			}
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("postgres on port %d did not accept connections within %v", s.Port, startTimeout)
}

// DSN returns the URL of database on the server, as the superuser.
func (s *Server) DSN(database string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable",
		net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), database)
}

// Stop shuts the server down cleanly (fast shutdown: open sessions are
// ended, their transactions rolled back) and waits for it to exit.
func (s *Server) Stop() { s.stop(stopSignal) }

// Kill kills the server and its backends at once, as a crash of the host
// would, and waits for the server to exit. It is safe to call more than
// once, and on a stopped server.
func (s *Server) Kill() { s.stop(killSignal) }

func (s *Server) stop(sig signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.signal(sig)
	<-s.done
	if sig == killSignal {
		// The backends are in the same process group: none survives to
		// keep the shared memory that a restart must find free.
		s.signal(killSignal)
	}
	s.cmd, s.done = nil, nil
}

// Restart starts a stopped or killed server again on the same port and
// data directory; after a kill, PostgreSQL recovers from its WAL first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("pgtest: restart: %v", err)
	}
}

func (s *Server) log() string {
	b, _ := os.ReadFile(s.logPath())
	return string(b)
}

// freePort asks the kernel for a port nobody listens on now.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// credential is the user the server runs as; nil means the current one.
type credential struct {
	uid, gid uint32
}

// unprivileged returns the user to run the server as: nil unless the
// test runs as root, then postgres or else nobody.
func unprivileged() (*credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &credential{uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and neither user postgres nor nobody exists to run the server as")
}

// own hands dir to the user, which initdb requires of the data directory.
func (c *credential) own(dir string) error {
	if c == nil {
		return nil
	}
	return os.Chown(dir, int(c.uid), int(c.gid))
}
