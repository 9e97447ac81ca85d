//go:build unix && !linux

package pgtest

import "syscall"

// setDeathSignal does nothing where the kernel cannot tie a child's life
// to its parent's; t.Cleanup still kills the server.
func setDeathSignal(*syscall.SysProcAttr) {}
