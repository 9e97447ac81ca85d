package pgtest

import "syscall"

// setDeathSignal has the kernel kill the server if the test binary dies
// without running its cleanups (a panic, a timeout), so no server outlives
// its test run; its backends exit when they see the postmaster gone.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
