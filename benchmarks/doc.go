// Package benchmarks measures consolidate's Redis backends against
// established Go libraries doing the same work on the same redis-server:
// redis.Queue against asynq, redis.Locker against redsync, and Service.Get
// through redis.Cache against the bare SQLite read.
//
// It is a module of its own so that the libraries it compares against
// never become dependencies of consolidate. Run it from this directory:
//
//	go test -run XXX -bench . -benchtime 2s -count 3
//
// The benchmarks start one redis-server (no persistence) on a free
// loopback port for the whole run, or use the server at the address in
// CONSOLIDATE_BENCH_REDIS. Without either they are skipped, unless
// CONSOLIDATE_REQUIRE_REDIS=1 makes that a failure.
package benchmarks
