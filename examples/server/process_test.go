package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildServer compiles this command into dir.
func buildServer(t *testing.T, dir string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the server: %v", err)
	}
	bin := filepath.Join(dir, "server")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a running server.
type process struct {
	t        *testing.T
	cmd      *exec.Cmd
	url      string // http://host:port
	reverter string // the in-process chain's reverting contract
	done     chan struct{}
	err      error // exit status, once done

	mu  sync.Mutex
	log bytes.Buffer
}

var (
	servingRE  = regexp.MustCompile(`"msg":"serving HTTP","addr":"([^"]+)"`)
	reverterRE = regexp.MustCompile(`"reverting_contract":"(0x[0-9a-fA-F]{40})"`)
)

// startServer starts bin and waits until it serves HTTP. It is killed when
// the test ends if it is still running, and its log is shown if the test
// failed.
func startServer(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	return startCmd(t, exec.Command(bin, args...))
}

// startCmd is startServer for a command whose directory or environment
// the caller has set.
func startCmd(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	args := cmd.Args[1:]
	p := &process{t: t, cmd: cmd, done: make(chan struct{})}
	p.cmd.Env = append(p.cmd.Environ(), "CONSOLIDATE_LOG_LEVEL=info", operatorTokenEnv+"="+operatorToken)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			if m := reverterRE.FindStringSubmatch(line); m != nil {
				p.reverter = m[1]
			}
			if m := servingRE.FindStringSubmatch(line); m != nil && !signalled {
				p.url = "http://" + m[1]
				signalled = true
				close(ready)
			}
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("server %v log:\n%s", args, p.logText())
		}
	})
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("server exited during start-up: %v\n%s", p.err, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start serving within 30s\n%s", p.logText())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reverter == "" {
		t.Fatalf("no reverting_contract in the start-up log:\n%s", p.log.String())
	}
	return p
}

func (p *process) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// kill sends SIGKILL and waits for the process to go.
func (p *process) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("SIGKILL: %v", err)
	}
	<-p.done
}

// terminate sends SIGTERM.
func (p *process) terminate() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
}

// wait waits for the process to exit and fails unless it exited 0.
func (p *process) wait(timeout time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("server still running %v after SIGTERM", timeout)
	}
	if p.err != nil {
		p.t.Fatalf("server exited with %v", p.err)
	}
}

// operatorToken is the operator token of the servers the tests start.
const operatorToken = "test-operator-token-0123456789"

// api is an HTTP client of the server.
type api struct {
	url    string
	client *http.Client
	token  string // the operator token it sends, if any
}

// operator returns a copy of a that sends the operator token.
func (a api) operator() api {
	a.token = operatorToken
	return a
}

// call sends a JSON request and decodes the JSON answer into out (if not
// nil). A transport error is returned; any answer is not an error.
func (a api) call(method, path, body string, out any) (int, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		return 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: answer %q: %w", method, path, raw, err)
		}
	}
	return resp.StatusCode, nil
}

// transaction is the API's transaction, as much as the test reads.
type transaction struct {
	ID             int64  `json:"id"`
	AccountID      int64  `json:"user_account_id"`
	To             string `json:"to_public_address"`
	Amount         string `json:"transaction_amount_in_wei"`
	FeeTotal       string `json:"transaction_fee_total_in_wei"`
	Status         string `json:"status"`
	IdempotencyKey string `json:"idempotency_key"`
}

type account struct {
	ID        int64  `json:"id"`
	Available string `json:"available_balance_in_wei"`
	Current   string `json:"current_balance_in_wei"`
}
