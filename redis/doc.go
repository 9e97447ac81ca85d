// Package redis holds the Redis backends of consolidate's Locker, Cache and
// Queue, for Redis, Redis Cluster and Dragonfly: a SET NX PX lock
// (NewLocker), Redlock over several independent nodes (NewRedlock), a
// versioned read-through cache (NewCache) and a retry queue with leases and
// dead letters (NewQueue). Each takes a go-redis UniversalClient, which a
// program importing both packages names apart:
//
//	import (
//		goredis "github.com/redis/go-redis/v9"
//		"github.com/go-consolidate/consolidate/redis"
//	)
//
//	client := goredis.NewClient(&goredis.Options{Addr: "localhost:6379"})
//	cfg := consolidate.Config{
//		Locker: redis.NewLocker(client, nil),
//		Cache:  redis.NewCache(client, nil),
//		Queue:  redis.NewQueue(client, nil),
//	}
//
// Every key a script touches is passed in KEYS, and keys used together
// share one hash tag, so the same code runs on a single server, a cluster
// and Dragonfly (--cluster_mode=emulated --lock_on_hashtags). The root
// package does not import this one: a program on the in-process defaults
// links no Redis client.
package redis
