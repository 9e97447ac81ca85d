package pgtest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// StartStandby starts a streaming standby of s: a base backup of s
// (pg_basebackup -R, which makes the copy a standby that follows s) in a
// new temporary directory, started on a free port with opts, read-only
// until promoted. s counts it as synchronous if s was started with
// synchronous_standby_names naming it or '*'. opts are the standby's own
// settings: it does not inherit s's, so a promoted standby does not wait
// for a standby of its own unless opts say so. It is killed and its
// directory removed when t ends.
func (s *Server) StartStandby(t testing.TB, opts *Options) *Server {
	t.Helper()
	standby, o, err := newServer(s.bin, opts, "pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(standby.remove)
	cmd := exec.Command(filepath.Join(s.bin, "pg_basebackup"), "-D", standby.dataDir(),
		"-h", s.Host, "-p", strconv.Itoa(s.Port), "-U", "postgres",
		"-R", "-X", "stream", "-c", "fast", "--no-sync")
	s.cred.apply(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: pg_basebackup: %v\n%s", err, out)
	}
	if err := standby.launch(o); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return standby
}

// Promote makes a standby a primary that accepts writes, as a failover
// does, and returns once it does.
func (s *Server) Promote(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		t.Fatalf("pgtest: promote: %v", err)
	}
	defer conn.Close(ctx)
	var promoted bool
	if err := conn.QueryRow(ctx, `SELECT pg_promote(true, $1)`, int(startTimeout/time.Second)).Scan(&promoted); err != nil || !promoted {
		t.Fatalf("pgtest: promote: %v, %v\n%s", promoted, err, s.log())
	}
}

// Synchronous returns how many standbys s waits for before a commit
// returns, as s reports them now (sync_state sync or quorum).
func (s *Server) Synchronous(ctx context.Context) (int, error) {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')`).Scan(&n)
	return n, err
}
