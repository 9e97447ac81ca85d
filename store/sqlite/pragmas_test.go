package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestPragmas checks that both pools run with the durability settings the
// package documents, on every connection.
func TestPragmas(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "pragmas.db"), &Options{ReadConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]string{
		"journal_mode":       "wal",
		"synchronous":        "2", // FULL
		"foreign_keys":       "1",
		"busy_timeout":       "5000",
		"journal_size_limit": "67108864", // 64 MiB
	}
	for pool, db := range map[string]interface {
		QueryRow(string, ...any) *sql.Row
	}{"write": s.w, "read": s.r} {
		for name, value := range want {
			var got string
			if err := db.QueryRow("PRAGMA " + name).Scan(&got); err != nil {
				t.Fatalf("%s pool: PRAGMA %s: %v", pool, name, err)
			}
			if got != value {
				t.Errorf("%s pool: %s = %s, want %s", pool, name, got, value)
			}
		}
	}
	// The read pool cannot write, whatever a bug asks of it.
	if _, err := s.r.Exec(`DELETE FROM accounts`); err == nil {
		t.Error("read pool accepted a write")
	}
}
