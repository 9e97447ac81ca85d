package consolidatetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-consolidate/consolidate"
)

// RunCache runs the Cache conformance suite.
func RunCache(t *testing.T, newCache func(t *testing.T) consolidate.Cache) {
	ctx := context.Background()

	get := func(t *testing.T, c consolidate.Cache, key string) (consolidate.CacheEntry, bool) {
		t.Helper()
		e, ok, err := c.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		return e, ok
	}
	fill := func(t *testing.T, c consolidate.Cache, key string, e consolidate.CacheEntry, ttl time.Duration) bool {
		t.Helper()
		ok, err := c.Fill(ctx, key, e, ttl)
		if err != nil {
			t.Fatalf("Fill(%q, v%d): %v", key, e.Version, err)
		}
		return ok
	}

	t.Run("MissFillHit", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		if _, ok := get(t, c, "tx:1"); ok {
			t.Fatal("hit on an empty cache")
		}
		if !fill(t, c, "tx:1", consolidate.CacheEntry{Version: 1, Value: []byte("one")}, time.Minute) {
			t.Fatal("Fill of an absent key not stored")
		}
		e, ok := get(t, c, "tx:1")
		if !ok || e.Version != 1 || e.Negative || !bytes.Equal(e.Value, []byte("one")) {
			t.Fatalf("Get = %+v, %v; want version 1 value one", e, ok)
		}
	})

	t.Run("VersionNeverGoesBack", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		fill(t, c, "k", consolidate.CacheEntry{Version: 5, Value: []byte("v5")}, time.Minute)
		if fill(t, c, "k", consolidate.CacheEntry{Version: 4, Value: []byte("v4")}, time.Minute) {
			t.Fatal("older version replaced newer")
		}
		if fill(t, c, "k", consolidate.CacheEntry{Version: 5, Value: []byte("v5b")}, time.Minute) {
			t.Fatal("equal version replaced the entry")
		}
		if !fill(t, c, "k", consolidate.CacheEntry{Version: 6, Value: []byte("v6")}, time.Minute) {
			t.Fatal("newer version not stored")
		}
		e, _ := get(t, c, "k")
		if e.Version != 6 || string(e.Value) != "v6" {
			t.Fatalf("Get = v%d %q, want v6", e.Version, e.Value)
		}
	})

	t.Run("NegativeEntries", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		if !fill(t, c, "k", consolidate.CacheEntry{Negative: true}, time.Minute) {
			t.Fatal("negative Fill of an absent key not stored")
		}
		e, ok := get(t, c, "k")
		if !ok || !e.Negative || len(e.Value) != 0 {
			t.Fatalf("Get = %+v, %v; want a negative entry", e, ok)
		}
		// A row that appears replaces the negative entry.
		if !fill(t, c, "k", consolidate.CacheEntry{Version: 1, Value: []byte("row")}, time.Minute) {
			t.Fatal("row did not replace the negative entry")
		}
		// A late negative fill (from a reader that missed before the row
		// existed) must not hide the row.
		if fill(t, c, "k", consolidate.CacheEntry{Negative: true}, time.Minute) {
			t.Fatal("negative entry replaced a row")
		}
		e, _ = get(t, c, "k")
		if e.Negative || string(e.Value) != "row" {
			t.Fatalf("Get = %+v, want the row", e)
		}
	})

	t.Run("EmptyValueIsNotNegative", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		fill(t, c, "k", consolidate.CacheEntry{Version: 3}, time.Minute)
		e, ok := get(t, c, "k")
		if !ok || e.Negative || e.Version != 3 {
			t.Fatalf("Get = %+v, %v; want a positive entry with an empty value", e, ok)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		fill(t, c, "k", consolidate.CacheEntry{Version: 9, Value: []byte("x")}, 150*time.Millisecond)
		time.Sleep(350 * time.Millisecond)
		if _, ok := get(t, c, "k"); ok {
			t.Fatal("entry outlived its TTL")
		}
		// After expiry an older version may be filled again.
		if !fill(t, c, "k", consolidate.CacheEntry{Version: 2, Value: []byte("y")}, time.Minute) {
			t.Fatal("Fill after expiry not stored")
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		fill(t, c, "k", consolidate.CacheEntry{Version: 9, Value: []byte("x")}, time.Minute)
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, ok := get(t, c, "k"); ok {
			t.Fatal("hit after Delete")
		}
		if err := c.Delete(ctx, "missing"); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
	})

	t.Run("NonPositiveTTLStoresNothing", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		for _, ttl := range []time.Duration{0, -time.Second} {
			if fill(t, c, "k", consolidate.CacheEntry{Version: 1, Value: []byte("x")}, ttl) {
				t.Fatalf("Fill with ttl %v reported stored", ttl)
			}
		}
		if _, ok := get(t, c, "k"); ok {
			t.Fatal("hit after fills with no ttl")
		}
	})

	t.Run("BinaryValues", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		v := []byte{0, 1, 2, 255, '\n', 0}
		fill(t, c, "k", consolidate.CacheEntry{Version: 1, Value: v}, time.Minute)
		e, _ := get(t, c, "k")
		if !bytes.Equal(e.Value, v) {
			t.Fatalf("Get = %x, want %x", e.Value, v)
		}
	})
}
