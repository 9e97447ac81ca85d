package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a child when the controller dies, so
// that an interrupted soak leaves no process behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
