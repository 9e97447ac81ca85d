package benchmarks

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	addrEnv    = "CONSOLIDATE_BENCH_REDIS"
	requireEnv = "CONSOLIDATE_REQUIRE_REDIS"
)

// redisAddr is the server every benchmark of the run shares; empty when
// none could be found, and then each benchmark skips.
var redisAddr string

func TestMain(m *testing.M) {
	addr, stop, err := server()
	if err != nil {
		if os.Getenv(requireEnv) == "1" {
			fmt.Fprintf(os.Stderr, "benchmarks: %v\n", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "benchmarks: %v; Redis benchmarks skipped\n", err)
	}
	redisAddr = addr
	code := m.Run()
	for i := len(ledgerDone) - 1; i >= 0; i-- {
		ledgerDone[i]()
	}
	stop()
	os.Exit(code)
}

// server returns the address of the server named in the environment, or
// starts a redis-server without persistence on a free loopback port.
func server() (addr string, stop func(), err error) {
	stop = func() {}
	if a := os.Getenv(addrEnv); a != "" {
		return a, stop, nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", stop, fmt.Errorf("redis-server not installed and %s not set", addrEnv)
	}
	for attempt := 0; attempt < 3; attempt++ {
		addr, stop, err = startServer(bin)
		if err == nil {
			return addr, stop, nil
		}
	}
	return "", func() {}, err
}

func startServer(bin string) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "consolidate-bench-redis")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ping(addr) == nil {
			return addr, stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("redis-server on %s did not answer PING", addr)
}

func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// client returns a client of the shared server with go-redis's default
// pool, after emptying the server so that no benchmark sees another's
// keys.
func client(b *testing.B) *redis.Client {
	b.Helper()
	if redisAddr == "" {
		b.Skip("no Redis server")
	}
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	b.Cleanup(func() { c.Close() })
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
	return c
}
