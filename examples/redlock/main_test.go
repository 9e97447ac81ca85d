package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CONSOLIDATE_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server not found and CONSOLIDATE_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server not installed")
	}
	var out bytes.Buffer
	if err := run(t.Context(), nil, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"accepted on the remaining quorum", "submit refused, balances unchanged", "every accepted transfer settled once"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
