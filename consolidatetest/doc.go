// Package consolidatetest holds conformance suites for the backend
// interfaces of package consolidate: Locker, Cache and Queue. Every
// implementation runs the same suite from its own test file:
//
//	func TestQueue(t *testing.T) {
//		consolidatetest.RunQueue(t, func(t *testing.T) consolidate.Queue {
//			return consolidate.NewMemoryQueue()
//		})
//	}
//
// The suites use real time with short TTLs, so they run against network
// backends too; each new backend returned by the constructor must be empty,
// or at least share no keys with the others (use a fresh key prefix).
package consolidatetest
