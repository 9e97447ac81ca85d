package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   map[string]string
		e       edit
		path    string
		want    string // the changed file, if no error
		wantErr string
	}{
		{
			name:  "unique",
			files: map[string]string{"a.go": "x := a >= b\n", "b.go": "y := 1\n"},
			e:     edit{"a >= b", "a > b"},
			path:  "a.go",
			want:  "x := a > b\n",
		},
		{
			name:  "multiline",
			files: map[string]string{"s/c.go": "if x {\n\treturn\n}\nz()\n"},
			e:     edit{"if x {\n\treturn\n}\n", ""},
			path:  "s/c.go",
			want:  "z()\n",
		},
		{
			name:    "missing",
			files:   map[string]string{"a.go": "x := a >= b\n"},
			e:       edit{"a <= b", "a < b"},
			wantErr: "not found",
		},
		{
			name:    "twice in one file",
			files:   map[string]string{"a.go": "f()\nf()\n"},
			e:       edit{"f()", "g()"},
			wantErr: "found 2 times (a.go)",
		},
		{
			name:    "in two files",
			files:   map[string]string{"a.go": "f()\n", "b.go": "f()\n"},
			e:       edit{"f()", "g()"},
			wantErr: "found 2 times (a.go, b.go)",
		},
		{
			name:    "whitespace must match",
			files:   map[string]string{"a.go": "if  x {\n"},
			e:       edit{"if x {", "if !x {"},
			wantErr: "not found",
		},
		{
			name:    "empty snippet",
			files:   map[string]string{"a.go": "f()\n"},
			e:       edit{"", "g()"},
			wantErr: "empty snippet",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := make(map[string]string)
			for k, v := range tc.files {
				before[k] = v
			}
			path, err := apply(tc.files, tc.e)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("apply: %v, want an error containing %q", err, tc.wantErr)
				}
				for k, v := range before {
					if tc.files[k] != v {
						t.Errorf("failed apply changed %s", k)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if path != tc.path || tc.files[path] != tc.want {
				t.Errorf("apply changed %s to %q, want %s to %q", path, tc.files[path], tc.path, tc.want)
			}
			for k, v := range before {
				if k != path && tc.files[k] != v {
					t.Errorf("apply changed %s too", k)
				}
			}
		})
	}
}

// Every mutant must be well formed: a name the -run flag can select,
// edits that change something, and tests to run.
func TestMutantsWellFormed(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for _, m := range mutants {
		if m.name == "" || strings.ContainsAny(m.name, " \t") || seen[m.name] {
			t.Errorf("mutant %q: empty, spaced or repeated name", m.name)
		}
		seen[m.name] = true
		if len(m.edits) == 0 || len(m.pkgs) == 0 || m.run == "" || m.desc == "" {
			t.Errorf("mutant %s: needs a description, edits, packages and a -run pattern", m.name)
		}
		for _, e := range m.edits {
			if e.old == e.new {
				t.Errorf("mutant %s: an edit changes nothing", m.name)
			}
		}
	}
}

// Every mutant must still plant in today's source: each snippet found
// exactly once where the mutant looks. A snippet the code has moved away
// from is caught here, by go test, not only by a mutation run.
func TestMutantsPlant(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	all, err := sourceDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mutants {
		dirs := all
		if m.in != "" {
			dirs = []string{m.in}
		}
		files, err := sources(root, dirs)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range m.edits {
			if _, err := apply(files, e); err != nil {
				t.Errorf("mutant %s, edit %d: %v", m.name, i+1, err)
			}
		}
	}
}
