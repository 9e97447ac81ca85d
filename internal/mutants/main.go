// Command mutants plants known money bugs in a scratch copy of the module,
// one at a time, and checks that the tests meant to catch each one fail.
// Run it from anywhere in the repository:
//
//	go run ./internal/mutants              # every mutant
//	go run ./internal/mutants -run settle  # those whose name matches
//	go run ./internal/mutants -v           # with the tests' output
//
// The copy is of the committed tree (HEAD, or -rev), extracted into a
// temporary directory, so the working copy is never touched. Each mutant
// is an exact snippet of non-test source in the root, redis or store packages,
// found by searching rather than by file name, and its replacement; a
// snippet that is missing or not unique makes the mutant "broken", so a
// refactoring cannot turn a mutant into a silent pass. A mutant that no
// longer compiles is broken too. Otherwise the mutant's tests run with
// go test: "caught" if they fail, "survived" if they pass. The command
// exits non-zero unless every mutant is caught. -baseline first runs each
// mutant's tests on the unchanged copy, to tell a caught mutant from a
// test that fails anyway.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// A mutant is one planted bug and the tests that must catch it.
type mutant struct {
	name  string
	desc  string
	in    string // if set, the package directory its snippets are searched in
	edits []edit
	pkgs  []string // packages whose tests run, relative to the module root
	run   string   // go test -run pattern
	args  []string // further go test arguments, such as a simulation's seeds
	// timeout bounds the test run; a run that times out proves nothing
	// on a loaded machine, so it is reported apart from a catch.
	timeout time.Duration
}

// A verdict is what came of one mutant.
type verdict struct {
	m      *mutant
	status string   // caught, survived, broken, timeout or flaky
	failed []string // failing tests, for a catch
	detail string
	took   time.Duration
	fatal  bool // the copy is left changed: stop
}

func main() {
	// run returns instead of exiting, so that its deferred clean-up runs.
	os.Exit(run())
}

func run() int {
	runFlag := flag.String("run", "", "run only the mutants whose name matches this regexp")
	verbose := flag.Bool("v", false, "print the output of the tests")
	rev := flag.String("rev", "HEAD", "the git revision to copy")
	baseline := flag.Bool("baseline", false, "first run each mutant's tests on the unchanged copy")
	markdown := flag.Bool("md", false, "also print the results as a markdown table")
	flag.Parse()
	log := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

	var sel *regexp.Regexp
	if *runFlag != "" {
		var err error
		if sel, err = regexp.Compile(*runFlag); err != nil {
			log("mutants: -run: %v", err)
			return 2
		}
	}
	var todo []*mutant
	for i := range mutants {
		if sel == nil || sel.MatchString(mutants[i].name) {
			todo = append(todo, &mutants[i])
		}
	}
	if len(todo) == 0 {
		log("mutants: no mutant matches %q", *runFlag)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := scratchCopy(ctx, *rev)
	if err != nil {
		log("mutants: %v", err)
		return 2
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	var out io.Writer = io.Discard
	if *verbose {
		out = os.Stderr
	}
	var vs []verdict
	for _, m := range todo {
		log("--- %s: %s", m.name, m.desc)
		v := check(ctx, dir, m, *baseline, out)
		vs = append(vs, v)
		log("%-8s %s (%s)%s", v.status, m.name, v.took.Round(100*time.Millisecond), v.summary())
		if ctx.Err() != nil || v.fatal {
			break
		}
	}
	ok := report(os.Stdout, vs)
	if *markdown {
		markdownTable(os.Stdout, vs)
	}
	fmt.Printf("%d mutants in %s\n", len(vs), time.Since(start).Round(time.Second))
	if !ok || ctx.Err() != nil {
		return 1
	}
	return 0
}

func (v verdict) summary() string {
	switch {
	case len(v.failed) > 0:
		return ": " + strings.Join(v.failed, ", ")
	case v.detail != "":
		return ": " + v.detail
	}
	return ""
}

// check plants m in the copy at dir, runs its tests and takes it out again.
func check(ctx context.Context, dir string, m *mutant, baseline bool, out io.Writer) (v verdict) {
	start := time.Now()
	v.m = m
	defer func() { v.took = time.Since(start) }()
	if baseline {
		if res := goTest(ctx, dir, m, out); res.status != "survived" {
			v.status, v.failed, v.detail = "flaky", res.failed, "the tests fail without the mutant: "+res.status+" "+res.detail
			return v
		}
	}
	restore, pkgs, err := plant(dir, m)
	if restore != nil {
		defer func() {
			if err := restore(); err != nil {
				// Every later mutant would run on a changed copy.
				v.status, v.detail, v.fatal = "broken", "cannot take the mutant out: "+err.Error(), true
			}
		}()
	}
	if err != nil {
		v.status, v.detail = "broken", err.Error()
		return v
	}
	if msg, err := goRun(ctx, dir, out, append([]string{"build", "-trimpath"}, pkgs...)...); err != nil {
		v.status, v.detail = "broken", "does not compile: "+lastLines(msg, 3)
		return v
	}
	v = goTest(ctx, dir, m, out)
	v.m = m
	return v
}

// plant applies m's edits in dir and returns what undoes them, and the
// packages it changed.
func plant(dir string, m *mutant) (restore func() error, pkgs []string, err error) {
	dirs := []string{m.in}
	if m.in == "" {
		if dirs, err = sourceDirs(dir); err != nil {
			return nil, nil, err
		}
	}
	files, err := sources(dir, dirs)
	if err != nil {
		return nil, nil, err
	}
	orig := make(map[string]string, len(files))
	for k, v := range files {
		orig[k] = v
	}
	var changed []string
	for i, e := range m.edits {
		p, err := apply(files, e)
		if err != nil {
			return nil, nil, fmt.Errorf("edit %d: %w", i+1, err)
		}
		if !slices.Contains(changed, p) {
			changed = append(changed, p)
		}
	}
	restore = func() error {
		var errs []error
		for _, p := range changed {
			errs = append(errs, os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte(orig[p]), 0o644))
		}
		return errors.Join(errs...)
	}
	for _, p := range changed {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte(files[p]), 0o644); err != nil {
			return restore, nil, err
		}
		if pkg := "./" + path.Dir(p); !slices.Contains(pkgs, pkg) {
			pkgs = append(pkgs, pkg)
		}
	}
	return restore, pkgs, nil
}

// sourceDirs returns the directories mutants are searched in: the root
// package, the Redis backends and the stores, less the test support
// packages.
func sourceDirs(root string) ([]string, error) {
	dirs := []string{".", "redis"}
	ents, err := os.ReadDir(filepath.Join(root, "store"))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.IsDir() && !strings.HasSuffix(e.Name(), "test") {
			dirs = append(dirs, "store/"+e.Name())
		}
	}
	return dirs, nil
}

// testEvent is a line of go test -json.
type testEvent struct {
	Action string
	Test   string
	Output string
}

// goTest runs m's tests in dir and tells whether they failed.
func goTest(ctx context.Context, dir string, m *mutant, out io.Writer) verdict {
	timeout := m.timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	args := []string{"test", "-json", "-count=1", "-trimpath", "-timeout", timeout.String(), "-run", m.run}
	args = append(append(args, m.args...), m.pkgs...)
	// The test binary panics at its timeout. This is a backstop for a
	// child that hangs, generous because building is slow on a busy machine.
	ctx, cancel := context.WithTimeout(ctx, timeout+15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, goEnv()
	cmd.Stderr = out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return verdict{status: "broken", detail: err.Error()}
	}
	if err := cmd.Start(); err != nil {
		return verdict{status: "broken", detail: err.Error()}
	}
	var (
		failed            []string
		timedOut, noBuild bool
		tail              []string
	)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev testEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			fmt.Fprintln(out, sc.Text())
			continue
		}
		fmt.Fprint(out, ev.Output)
		switch {
		case ev.Action == "fail" && ev.Test != "":
			failed = append(failed, ev.Test)
		case strings.HasPrefix(ev.Output, "panic: test timed out"):
			timedOut = true
		case strings.Contains(ev.Output, "[build failed]") || strings.Contains(ev.Output, "[setup failed]"):
			noBuild = true
		}
		if ev.Output != "" {
			tail = append(tail[max(0, len(tail)-20):], strings.TrimRight(ev.Output, "\n"))
		}
	}
	err = cmd.Wait()
	v := verdict{failed: leaves(failed)}
	switch {
	case err == nil:
		v.status = "survived"
	case noBuild:
		v.status, v.detail = "broken", "the tests do not compile"
	case timedOut || ctx.Err() != nil:
		v.status, v.detail = "timeout", "the tests did not finish in "+timeout.String()
	case len(v.failed) > 0:
		v.status = "caught"
	default:
		v.status, v.detail = "caught", "go test failed: "+lastLines(strings.Join(tail, "\n"), 3)
	}
	return v
}

// leaves drops the tests whose subtests failed: the subtests say more.
func leaves(names []string) []string {
	var out []string
	for _, n := range names {
		parent := false
		for _, o := range names {
			if strings.HasPrefix(o, n+"/") {
				parent = true
				break
			}
		}
		if !parent && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// goRun runs the go command in dir and returns its combined output.
func goRun(ctx context.Context, dir string, out io.Writer, args ...string) (string, error) {
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, goEnv()
	cmd.Stdout = io.MultiWriter(&buf, out)
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	return buf.String(), err
}

// goEnv is the environment of the go commands: the copy has no .git, so
// no version control stamp.
func goEnv() []string {
	return append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -buildvcs=false"))
}

// scratchCopy extracts the tree of rev into a new temporary directory.
func scratchCopy(ctx context.Context, rev string) (string, error) {
	top, err := exec.CommandContext(ctx, "git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("not in a git repository: %w", err)
	}
	dir, err := os.MkdirTemp("", "mutants-")
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", rev)
	cmd.Dir = strings.TrimSpace(string(top))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	r, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err == nil {
		err = untar(r, dir)
		// Drain what is left, so git does not block on a full pipe.
		io.Copy(io.Discard, r)
		if werr := cmd.Wait(); werr != nil {
			err = errors.Join(err, fmt.Errorf("git archive %s: %w: %s", rev, werr, strings.TrimSpace(stderr.String())))
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// untar writes the regular files, directories and symbolic links of a tar
// stream under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Join(dir, filepath.FromSlash(path.Clean(h.Name)))
		if !strings.HasPrefix(name, dir+string(filepath.Separator)) {
			continue // pax headers and anything outside dir
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(name, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, name)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o600); err == nil {
				_, err = io.Copy(f, tr)
				err = errors.Join(err, f.Close())
			}
		}
		if err != nil {
			return err
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// report prints one line per mutant and tells whether every one was
// caught.
func report(w io.Writer, vs []verdict) bool {
	ok := true
	fmt.Fprintln(w)
	for _, v := range vs {
		fmt.Fprintf(w, "%-8s %-28s %7s%s\n", v.status, v.m.name, v.took.Round(100*time.Millisecond), v.summary())
		ok = ok && v.status == "caught"
	}
	return ok
}

// markdownTable prints the results as a table for the documentation.
func markdownTable(w io.Writer, vs []verdict) {
	fmt.Fprintln(w, "\n| mutant | what it plants | caught by | time |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, v := range vs {
		by := v.status
		if len(v.failed) > 0 {
			by = "`" + strings.Join(v.failed, "`, `") + "`"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", v.m.name, v.m.desc, by, v.took.Round(time.Second))
	}
}
