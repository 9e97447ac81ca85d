package pgtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// spares is how many copies of a template are made ahead of their use,
// so that a test need not wait for its copy.
const spares = 2

// template is a database that new ones are copied from.
type template struct {
	once sync.Once
	err  error

	mu      sync.Mutex
	ready   []string // copies made ahead, not yet handed out
	copying int      // copies being made ahead
}

// CreateDatabase creates an empty database with a new name and returns
// its DSN. Tests that share a server use one database each.
func (s *Server) CreateDatabase(t testing.TB) string {
	t.Helper()
	return s.createFrom(t, "template1")
}

// CreateDatabaseFrom creates a database with a new name as a copy of the
// database name and returns its DSN. The first call for name on s makes
// that database: an empty one, which prepare then fills (with a schema,
// say) and must leave no session open on. Copying a prepared database
// is faster than preparing each new one.
func (s *Server) CreateDatabaseFrom(t testing.TB, name string, prepare func(ctx context.Context, dsn string) error) string {
	t.Helper()
	s.tmu.Lock()
	if s.templates == nil {
		s.templates = map[string]*template{}
	}
	tp := s.templates[name]
	if tp == nil {
		tp = &template{}
		s.templates[name] = tp
	}
	s.tmu.Unlock()
	tp.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if tp.err = s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); tp.err == nil {
			tp.err = prepare(ctx, s.DSN(name))
		}
	})
	if tp.err != nil {
		t.Fatalf("pgtest: template database %s: %v", name, tp.err)
	}
	tp.mu.Lock()
	var db string
	if n := len(tp.ready); n > 0 {
		db, tp.ready = tp.ready[n-1], tp.ready[:n-1]
	}
	for ; len(tp.ready)+tp.copying < spares; tp.copying++ {
		go s.copyAhead(tp, name)
	}
	tp.mu.Unlock()
	if db != "" {
		return s.DSN(db)
	}
	return s.createFrom(t, name)
}

// copyAhead makes a copy of template for a later CreateDatabaseFrom. A
// failure makes none; that call makes its own.
func (s *Server) copyAhead(tp *template, template string) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	db, err := s.copyOf(ctx, template)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.copying--
	if err == nil {
		tp.ready = append(tp.ready, db)
	}
}

// createFrom creates a database with a new name as a copy of template.
func (s *Server) createFrom(t testing.TB, template string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	db, err := s.copyOf(ctx, template)
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return s.DSN(db)
}

// copyOf creates a database with a new name as a copy of template and
// returns its name.
func (s *Server) copyOf(ctx context.Context, template string) (string, error) {
	name := fmt.Sprintf("test_%d", s.created.Add(1))
	return name, s.exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+pgx.Identifier{template}.Sanitize())
}

// exec runs sql on the server's postgres database, as the superuser, on
// a connection kept for the next call: a new session costs more than a
// CREATE DATABASE from a small template.
func (s *Server) exec(ctx context.Context, sql string) error {
	s.tmu.Lock()
	if s.closed {
		s.tmu.Unlock()
		return errors.New("server removed")
	}
	if s.admin == nil {
		pool, err := pgxpool.New(ctx, s.DSN("postgres")+"&pool_max_conns=4")
		if err != nil {
			s.tmu.Unlock()
			return fmt.Errorf("connect: %w", err)
		}
		s.admin = pool
	}
	pool := s.admin
	s.tmu.Unlock()
	_, err := pool.Exec(ctx, sql)
	return err
}

// closeAdmin closes the connections exec keeps, once the statements
// running on them are done, and has later calls of exec fail: a copy
// made ahead may still be under way when its server goes.
func (s *Server) closeAdmin() {
	s.tmu.Lock()
	pool := s.admin
	s.admin, s.closed = nil, true
	s.tmu.Unlock()
	if pool != nil {
		pool.Close()
	}
}
