package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	const key = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
	for _, c := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // substring; "" for success
		check   func(t *testing.T, c config)
	}{
		{name: "defaults", check: func(t *testing.T, c config) {
			if c.addr != "127.0.0.1:8080" || c.role != "all" || c.operatorToken != "" || !c.temporary() || !c.embedded() || c.redisURL != "" || c.blockTime != 500*time.Millisecond {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "kept ledger", args: []string{"-db", "ledger.db"}, check: func(t *testing.T, c config) {
			if c.db != "ledger.db" || c.temporary() || !strings.Contains(c.String(), "ledger ledger.db") {
				t.Errorf("-db on the in-process chain: %+v (%s)", c, c)
			}
		}},
		{name: "kept ledger from the environment", env: map[string]string{"CONSOLIDATE_DB": "env.db"}, check: func(t *testing.T, c config) {
			if c.db != "env.db" || c.temporary() {
				t.Errorf("CONSOLIDATE_DB on the in-process chain: %+v", c)
			}
		}},
		{name: "real chain keeps a ledger by default", args: []string{"-rpc", "http://n"}, env: map[string]string{keyEnv: key}, check: func(t *testing.T, c config) {
			if c.db != "consolidate.db" || c.temporary() {
				t.Errorf("-rpc without -db: %+v", c)
			}
		}},
		{name: "environment", env: map[string]string{"CONSOLIDATE_ADDR": ":9000", "CONSOLIDATE_REDIS_URL": "redis://r:6379", "CONSOLIDATE_EVENT_QUEUES": "a, b,,"}, check: func(t *testing.T, c config) {
			if c.addr != ":9000" || c.redisURL != "redis://r:6379" || strings.Join(c.events, "|") != "a|b" {
				t.Errorf("from the environment: %+v", c)
			}
		}},
		{name: "flags win", args: []string{"-addr", ":1"}, env: map[string]string{"CONSOLIDATE_ADDR": ":9000"}, check: func(t *testing.T, c config) {
			if c.addr != ":1" {
				t.Errorf("addr %q", c.addr)
			}
		}},
		{name: "real chain", args: []string{"-rpc", "https://node.example/v3/secret", "-role", "api", "-redis", "redis://r:6379"}, env: map[string]string{keyEnv: "0x" + key}, check: func(t *testing.T, c config) {
			if c.key == nil || c.embedded() || !c.serves() || c.works() {
				t.Errorf("api role on a real chain: %+v", c)
			}
			if s := c.String(); strings.Contains(s, "secret") || strings.Contains(s, key) || strings.Contains(s, "redis://") {
				t.Errorf("description leaks a URL or the key: %s", s)
			}
		}},
		{name: "worker role", args: []string{"-rpc", "http://n", "-role", "worker", "-redis", "redis://r"}, env: map[string]string{keyEnv: key}, check: func(t *testing.T, c config) {
			if c.serves() || !c.works() {
				t.Errorf("worker role: %+v", c)
			}
		}},
		{name: "postgres", args: []string{"-postgres", "postgres://app:secret@db.internal/ledger"}, check: func(t *testing.T, c config) {
			if c.postgres != "postgres://app:secret@db.internal/ledger" {
				t.Errorf("postgres DSN %q", c.postgres)
			}
			if s := c.String(); strings.Contains(s, "secret") || !strings.Contains(s, "ledger PostgreSQL") {
				t.Errorf("description leaks the DSN or names another ledger: %s", s)
			}
		}},
		{name: "rpc without key", args: []string{"-rpc", "http://n"}, wantErr: keyEnv},
		{name: "bad key", args: []string{"-rpc", "http://n"}, env: map[string]string{keyEnv: "zz" + key[2:]}, wantErr: "not a 32-byte hex private key"},
		{name: "api role in-process", args: []string{"-role", "api"}, wantErr: "needs -redis and -rpc"},
		{name: "worker role without redis", args: []string{"-role", "worker", "-rpc", "http://n"}, env: map[string]string{keyEnv: key}, wantErr: "needs -redis and -rpc"},
		{name: "unknown role", args: []string{"-role", "both"}, wantErr: "not api, worker or all"},
		{name: "one redlock node", args: []string{"-redlock", "redis://a"}, wantErr: "several independent nodes"},
		{name: "redlock nodes", args: []string{"-redlock", "redis://a,redis://b,redis://c"}, check: func(t *testing.T, c config) {
			if len(c.redlockURLs) != 3 || !strings.Contains(c.String(), "Redlock over 3 nodes") {
				t.Errorf("redlock: %+v", c)
			}
		}},
		{name: "events without redis", args: []string{"-events", "webhooks"}, wantErr: "-events needs -redis"},
		{name: "no workers", args: []string{"-workers", "0"}, wantErr: "-workers"},
		{name: "zero block time", args: []string{"-block-time", "0s"}, wantErr: "-block-time"},
		{name: "log level", args: []string{"-log-level", "loud"}, wantErr: "-log-level"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", args: []string{"-private-key", key}, wantErr: "not defined"},
		{name: "admin is gone", args: []string{"-admin"}, wantErr: "not defined"},
		{name: "short operator token", env: map[string]string{operatorTokenEnv: "short"}, wantErr: operatorTokenEnv},
		{name: "operator token", env: map[string]string{operatorTokenEnv: "operator-token-0123456789"}, check: func(t *testing.T, c config) {
			if c.operatorToken != "operator-token-0123456789" || !strings.Contains(c.String(), "operator API on") || strings.Contains(c.String(), c.operatorToken) {
				t.Fatalf("operator token %q, config %s", c.operatorToken, c)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string { return c.env[k] }
			got, err := parseConfig(c.args, getenv, io.Discard)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one with %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), key[4:]) {
					t.Fatalf("error quotes the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, got)
		})
	}
}
