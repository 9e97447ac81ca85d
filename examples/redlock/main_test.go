package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-consolidate/consolidate/internal/redistest"
)

func TestRun(t *testing.T) {
	// redistest skips without redis-server, or fails when CI requires it.
	var nodes []node
	for range 3 {
		s := redistest.Start(t)
		nodes = append(nodes, node{addr: s.Addr, stop: s.Stop})
	}
	var out bytes.Buffer
	if err := run(t.Context(), nodes, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"accepted on the remaining quorum", "submit refused, balances unchanged", "every accepted transfer settled once"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
