//go:build unix

package pgtest

import (
	"errors"
	"os/exec"
	"syscall"
)

type signal = syscall.Signal

const (
	// SIGINT is PostgreSQL's fast shutdown.
	stopSignal = syscall.SIGINT
	killSignal = syscall.SIGKILL
)

// apply runs cmd in its own process group, as the credential's user when
// there is one, so that Kill can reach every backend at once.
func (c *credential) apply(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
	if c != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.uid, Gid: c.gid, NoSetGroups: true}
	}
}

// signal sends sig to the server: the postmaster for a stop, which ends
// its backends itself, and the whole process group for a kill.
func (s *Server) signal(sig signal) {
	pid := s.cmd.Process.Pid
	if sig == killSignal {
		_ = syscall.Kill(-pid, sig)
		return
	}
	_ = syscall.Kill(pid, sig)
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
