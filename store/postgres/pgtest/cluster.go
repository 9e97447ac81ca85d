package pgtest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// clusterPrefix begins the name of the directory of the cluster that
// initdb made once for the process; its ID follows, as for shared
// servers.
const clusterPrefix = "pgtest-initdb-"

// cluster is a data directory fresh from initdb that new servers copy:
// a copy costs a fraction of an initdb. Only a process that has called
// Shared, and so removes it with StopShared, makes one.
var cluster struct {
	mu   sync.Mutex
	bin  string
	dir  string // holds the data directory, or "" if none was made
	made bool
}

// fromCluster copies the process's initdb cluster to s's data
// directory, making the cluster first if need be. It returns false,
// having copied nothing, where the process keeps no cluster: s then runs
// initdb itself.
func (s *Server) fromCluster() (bool, error) {
	shared.mu.Lock()
	keep := shared.used && !shared.stopped
	shared.mu.Unlock()
	if !keep {
		return false, nil
	}
	cluster.mu.Lock()
	if !cluster.made {
		// A failure leaves no cluster: each server's own initdb then
		// reports it.
		cluster.made, cluster.bin = true, s.bin
		cluster.dir, _ = makeCluster(s.bin, s.cred)
	}
	dir, bin := cluster.dir, cluster.bin
	cluster.mu.Unlock()
	if dir == "" || bin != s.bin {
		return false, nil
	}
	return true, copyDir(filepath.Join(dir, "data"), s.dataDir(), s.cred)
}

// makeCluster runs initdb in a new temporary directory and returns it,
// or "" and why not.
func makeCluster(bin string, cred *credential) (string, error) {
	c, _, err := newServer(bin, nil, fmt.Sprintf("%s%d-", clusterPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	if err := c.runInitdb(); err != nil {
		os.RemoveAll(c.Dir)
		return "", err
	}
	return c.Dir, nil
}

// removeCluster removes the process's cluster; servers boot without one
// afterwards.
func removeCluster() {
	cluster.mu.Lock()
	defer cluster.mu.Unlock()
	if cluster.dir != "" {
		os.RemoveAll(cluster.dir)
	}
	cluster.dir, cluster.made = "", true
}

// copyDir copies the tree src to dst, which must not exist, keeping
// permissions (PostgreSQL insists on its own) and giving every entry to
// cred's user.
func copyDir(src, dst string, cred *credential) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			err = os.Mkdir(target, info.Mode().Perm())
		case info.Mode().IsRegular():
			err = copyFile(path, target, info.Mode().Perm())
		default:
			return fmt.Errorf("copy %s: not a regular file", path)
		}
		if err != nil {
			return err
		}
		return cred.own(target)
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
