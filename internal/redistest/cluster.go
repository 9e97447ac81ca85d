package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of primaries only, each a Server.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts n (at least 3) cluster-enabled servers, joins them
// with redis-cli --cluster create, and waits until every node reports
// cluster_state:ok. The nodes are killed when t ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 3 {
		t.Fatalf("redistest: a cluster needs at least 3 primaries, got %d", n)
	}
	cli := binary(t, "redis-cli")
	c := &Cluster{}
	addrs := make([]string, n)
	for i := range n {
		// The cluster bus port defaults to port+10000, which may be taken
		// or out of range for an ephemeral port; pick it explicitly.
		bus, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s := Start(t,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
			"--cluster-port", strconv.Itoa(bus),
		)
		c.Nodes = append(c.Nodes, s)
		addrs[i] = s.Addr
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitOK(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return c
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr
	}
	return addrs
}

// Client returns a cluster client, closed when t ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DialTimeout: time.Second})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// waitOK polls CLUSTER INFO on every node until all report state ok and
// know every node.
func (c *Cluster) waitOK() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for _, s := range c.Nodes {
		client := redis.NewClient(&redis.Options{Addr: s.Addr})
		err := func() error {
			defer client.Close()
			want := "cluster_known_nodes:" + strconv.Itoa(len(c.Nodes))
			for {
				info, err := client.ClusterInfo(ctx).Result()
				if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, want) {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("cluster node %s not ready within %v: %q, %v", s.Addr, startTimeout, info, err)
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		if err != nil {
			return err
		}
	}
	return nil
}
