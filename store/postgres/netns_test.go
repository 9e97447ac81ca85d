package postgres_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// netnsEnv names the environment variable that, set to 1, makes a test
// fail where it cannot create network namespaces instead of skipping.
const netnsEnv = "CONSOLIDATE_REQUIRE_NETNS"

// network is a private network of hosts: a bridge in the test's own
// namespace, holding the server's address, and one network namespace per
// client host, each linked to the bridge by a veth pair. Every address is
// in a 10.77.x.0/24 of its own; no other interface is touched.
type network struct {
	t      *testing.T
	tag    string
	bridge string
	subnet string // 10.77.x.0/24
	server string // the bridge's address, 10.77.x.1
	hosts  []*host
}

// host is a network namespace with one link to the bridge.
type host struct {
	ns   string // namespace name
	link string // the bridge's end of the veth pair: down cuts the host off
	addr string
}

// requireNetns skips t (fails it, with CONSOLIDATE_REQUIRE_NETNS=1)
// unless it runs as root with ip(8), and under -short.
func requireNetns(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts servers and network namespaces; skipped under -short")
	}
	reason := ""
	if os.Geteuid() != 0 {
		reason = "network namespaces need root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		reason = "ip(8) not found"
	}
	if reason == "" {
		return
	}
	if os.Getenv(netnsEnv) == "1" {
		t.Fatalf("%s and %s=1", reason, netnsEnv)
	}
	t.Skipf("%s; set %s=1 to make this a failure", reason, netnsEnv)
}

// newNetwork creates the bridge and n client hosts, all removed when t
// ends, whether it passed or not.
func newNetwork(t *testing.T, n int) *network {
	t.Helper()
	tag := fmt.Sprintf("%05x", rand.IntN(1<<20))
	nw := &network{t: t, tag: tag, bridge: "cbr" + tag}
	nw.subnet, nw.server = freeSubnet(t)
	if out, err := exec.Command("ip", "link", "add", nw.bridge, "type", "bridge").CombinedOutput(); err != nil {
		// Root without the capability, as in some containers.
		msg := fmt.Sprintf("create a bridge: %v: %s", err, bytes.TrimSpace(out))
		if os.Getenv(netnsEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skipf("%s; set %s=1 to make this a failure", msg, netnsEnv)
	}
	t.Cleanup(func() { nw.ipQuiet("link", "del", nw.bridge) })
	nw.ip("addr", "add", nw.server+"/24", "dev", nw.bridge)
	nw.ip("link", "set", nw.bridge, "up")
	for i := range n {
		h := &host{
			ns:   fmt.Sprintf("consolidate-%s-%d", tag, i),
			link: fmt.Sprintf("cv%sh%d", tag, i),
			addr: fmt.Sprintf("%s.%d", strings.TrimSuffix(nw.subnet, ".0/24"), 10+i),
		}
		inside := fmt.Sprintf("cv%sn%d", tag, i)
		nw.ip("netns", "add", h.ns)
		// Deleting the namespace deletes the veth pair with it.
		t.Cleanup(func() { nw.ipQuiet("netns", "del", h.ns) })
		nw.ip("link", "add", h.link, "type", "veth", "peer", "name", inside)
		nw.ip("link", "set", inside, "netns", h.ns)
		nw.ip("link", "set", h.link, "master", nw.bridge, "up")
		nw.ip("-n", h.ns, "addr", "add", h.addr+"/24", "dev", inside)
		nw.ip("-n", h.ns, "link", "set", inside, "up")
		nw.ip("-n", h.ns, "link", "set", "lo", "up")
		nw.hosts = append(nw.hosts, h)
	}
	return nw
}

// freeSubnet picks a 10.77.x.0/24 that no interface of this machine uses,
// so that test runs side by side get networks of their own.
func freeSubnet(t *testing.T) (subnet, server string) {
	t.Helper()
	used := map[string]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			used[n.IP.Mask(net.CIDRMask(24, 32)).String()] = true
		}
	}
	for _, x := range rand.Perm(256) {
		base := fmt.Sprintf("10.77.%d.0", x)
		if !used[base] {
			return base + "/24", fmt.Sprintf("10.77.%d.1", x)
		}
	}
	t.Fatal("every 10.77.x.0/24 is in use")
	return "", ""
}

// cut takes h's link down: its packets and those sent to it are dropped,
// as when a switch port or cable fails; neither end is told.
func (nw *network) cut(h *host) { nw.ip("link", "set", h.link, "down") }

// restore brings h's link back.
func (nw *network) restore(h *host) { nw.ip("link", "set", h.link, "up") }

// command returns cmd run inside h's namespace.
func (h *host) command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.ns, name}, args...)...)
}

func (nw *network) ip(args ...string) {
	nw.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		nw.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// ipQuiet runs a clean-up step, reporting a failure without failing.
func (nw *network) ipQuiet(args ...string) {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		nw.t.Logf("clean-up: ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}
