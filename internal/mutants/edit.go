package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// An edit replaces one exact snippet of Go source.
type edit struct {
	old, new string
}

// sources reads the non-test Go files of dirs, relative to root, keyed by
// slash-separated path.
func sources(root string, dirs []string) (map[string]string, error) {
	files := make(map[string]string)
	for _, dir := range dirs {
		matches, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			if strings.HasSuffix(m, "_test.go") {
				continue
			}
			b, err := os.ReadFile(m)
			if err != nil {
				return nil, err
			}
			rel, err := filepath.Rel(root, m)
			if err != nil {
				return nil, err
			}
			files[filepath.ToSlash(rel)] = string(b)
		}
	}
	return files, nil
}

// apply makes e in files, which must hold e.old exactly once among them
// all, and returns the path it changed. A snippet found nowhere or in
// several places is an error: the code has moved on and the mutant must
// be rewritten, not silently skipped.
func apply(files map[string]string, e edit) (string, error) {
	if e.old == "" {
		return "", fmt.Errorf("empty snippet")
	}
	var where []string
	n := 0
	for path, src := range files {
		if c := strings.Count(src, e.old); c > 0 {
			n += c
			where = append(where, path)
		}
	}
	sort.Strings(where)
	switch {
	case n == 0:
		return "", fmt.Errorf("snippet not found: %q", firstLine(e.old))
	case n > 1:
		return "", fmt.Errorf("snippet found %d times (%s): %q", n, strings.Join(where, ", "), firstLine(e.old))
	}
	path := where[0]
	files[path] = strings.Replace(files[path], e.old, e.new, 1)
	return path, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
