package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// readPool is the read connections, with the statements reads have used
// kept prepared: modernc.org/sqlite compiles every statement it is given
// as text, and parsing was an eighth of a loaded Service's CPU. database/sql
// prepares a kept statement again on each connection the first time it
// runs there.
type readPool struct {
	*sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newReadPool(db *sql.DB) *readPool {
	return &readPool{DB: db, stmts: make(map[string]*sql.Stmt)}
}

// stmt returns query prepared, or nil to run it as text: when preparing
// fails (the query's own error then comes from running it) or when
// maxStmts are kept already, which bounds queries built per call. Every
// read passes here, so a kept statement is found under the read lock.
func (p *readPool) stmt(ctx context.Context, query string) *sql.Stmt {
	p.mu.RLock()
	st, ok := p.stmts[query]
	full := len(p.stmts) >= maxStmts
	p.mu.RUnlock()
	if ok || full {
		return st
	}
	st, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if kept, ok := p.stmts[query]; ok {
		// Another read prepared it meanwhile.
		st.Close()
		return kept
	}
	if len(p.stmts) >= maxStmts {
		st.Close()
		return nil
	}
	p.stmts[query] = st
	return st
}

func (p *readPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

func (p *readPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// Close closes the kept statements, then the pool.
func (p *readPool) Close() error {
	p.mu.Lock()
	for q, st := range p.stmts {
		st.Close()
		delete(p.stmts, q)
	}
	p.mu.Unlock()
	return p.DB.Close()
}
