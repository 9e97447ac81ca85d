// Package redistest starts throwaway redis-server processes for tests: a
// single server or a small Redis Cluster, each on free loopback ports, with
// no persistence, stopped when the test ends.
//
// When redis-server is not installed the calling test is skipped, unless
// the environment sets CONSOLIDATE_REQUIRE_REDIS=1 (as CI does), which
// turns the skip into a failure.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv names the environment variable that, set to 1, makes a
// missing redis-server fail tests instead of skipping them.
const RequireEnv = "CONSOLIDATE_REQUIRE_REDIS"

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Tests stop servers on purpose; the client's reconnect notices would only
// bury the test output.
func init() { redis.SetLogger(quiet{}) }

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Server is one redis-server process listening on 127.0.0.1.
type Server struct {
	// Addr is host:port of the server.
	Addr string

	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	once    sync.Once
}

// binary returns the path of name, or skips (or fails) t when it is absent.
func binary(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s not found and %s=1: %v", name, RequireEnv, err)
	}
	t.Skipf("%s not installed; set %s=1 to make this a failure", name, RequireEnv)
	return ""
}

// Start starts a redis-server with no persistence on a free loopback port
// and waits until it answers PING. Extra arguments are appended to its
// command line. The server is killed when t ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := binary(t, "redis-server")
	var lastErr error
	// A free port can be taken by someone else between our probe and the
	// server's bind; a few attempts make that race harmless.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(t, bin, args)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, extra []string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
	}
	args = append(args, extra...)
	logPath := filepath.Join(dir, "redis.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	t.Cleanup(s.Stop)
	if err := s.waitReady(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, s.log())
	}
	return s, nil
}

// waitReady polls the port until the server answers as this process. A
// port probed free can be bound by another test's server first; then ours
// exits, and the one answering on the port is not ours, so a plain PING
// would pass for the wrong server. INFO's process_id tells them apart.
func (s *Server) waitReady() error {
	want := "process_id:" + strconv.Itoa(s.cmd.Process.Pid)
	client := redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, MaxRetries: -1})
	defer client.Close()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("redis-server on %s exited during start-up", s.Addr)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := client.Info(ctx, "server").Result()
		cancel()
		if err == nil && strings.Contains(info, want+"\r\n") {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer as pid %d within %v", s.Addr, s.cmd.Process.Pid, startTimeout)
}

// Stop kills the server and waits for it to exit. It is safe to call more
// than once; tests call it to simulate a node failure.
func (s *Server) Stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

// Client returns a client of the server, closed when t ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *Server) log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	return string(b)
}

// freePort asks the kernel for a loopback port nobody listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var prefixes atomic.Int64

// NewPrefix returns a key prefix no other test in this process uses, so
// that one server serves many parallel tests.
func NewPrefix() string {
	return "test" + strconv.FormatInt(prefixes.Add(1), 10) + ":"
}
