package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Checkpoints run off the commit path. A checkpoint copies the pages of
// the write-ahead log back into the database file and syncs that file;
// left to SQLite's default, the commit that takes the log past 1000
// frames runs one itself, and every write queued behind it waits. Here a
// background checkpointer on its own connection copies the log while the
// committer goes on writing (a PASSIVE checkpoint takes no lock a writer
// needs), at most once per checkpointInterval while commits keep coming.
//
// The log is still bounded under a writer that never pauses: a log that
// is copied while it grows is never wholly copied at the moment a write
// begins, which is when SQLite starts it over, so the committer keeps a
// checkpoint of its own for a log of walBackstopFrames frames. That one
// finds most pages copied already, and the write after it starts the log
// over. The log holds at most walBackstopFrames frames and one batch,
// save while a long read pins it (see Options.WALSizeLimit).
const checkpointInterval = 100 * time.Millisecond

// walBackstopFrames is a variable only so that a test can lower it.
var walBackstopFrames = 8000 // 31 MiB of 4 KiB pages

// checkpointer runs background checkpoints on db, its own connection to
// the file, when kicked after a commit.
type checkpointer struct {
	db      *sql.DB
	kick    chan struct{} // a commit happened since the last checkpoint
	quit    chan struct{}
	stopped chan struct{}
}

func startCheckpointer(db *sql.DB) *checkpointer {
	k := &checkpointer{
		db:      db,
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go k.run()
	return k
}

// committed tells the checkpointer the log grew. It never blocks.
func (k *checkpointer) committed() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

func (k *checkpointer) run() {
	defer close(k.stopped)
	pause := time.NewTimer(checkpointInterval)
	defer pause.Stop()
	for {
		select {
		case <-k.kick:
		case <-k.quit:
			return
		}
		// The checkpoint copies each page once however often it was
		// written: waiting lets the commits of the interval share one.
		pause.Reset(checkpointInterval)
		select {
		case <-pause.C:
		case <-k.quit:
			return
		}
		// A failure leaves the copying to the committer's own checkpoint.
		_, _ = k.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// stop waits for a checkpoint under way and closes the connection.
func (k *checkpointer) stop() error {
	close(k.quit)
	<-k.stopped
	return k.db.Close()
}
