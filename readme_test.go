package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README is what a newcomer reads first: it stays short, its Layout
// names everything at the top of the repository, and every variable the
// bot reads is documented in docs/configuration.md.
func TestReadme(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(raw)
	require.LessOrEqual(t, len(raw), 15*1024, "README.md is at most 15 KB; move detail to docs/")

	i := strings.Index(readme, "## Layout")
	require.GreaterOrEqual(t, i, 0, "README has a Layout section")
	layout := readme[i:]
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	for _, e := range entries {
		name := e.Name()
		if name == ".git" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if e.IsDir() {
			name += "/"
		}
		require.True(t, strings.Contains(layout, name), "README's Layout does not name %s", name)
	}

	env, err := os.ReadFile(".env.example")
	require.NoError(t, err)
	conf, err := os.ReadFile(filepath.Join("docs", "configuration.md"))
	require.NoError(t, err)
	vars := regexp.MustCompile(`(?m)^(?:# )?([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(string(env), -1)
	require.NotEmpty(t, vars)
	for _, v := range vars {
		if strings.HasPrefix(v[1], "WA_SALES_") || strings.HasPrefix(v[1], "WA_SUPPORT_") {
			continue // the several-numbers example, documented as WA_<NAME>_*
		}
		require.True(t, strings.Contains(string(conf), "`"+v[1]+"`"), "docs/configuration.md does not document %s", v[1])
	}
}

// Nothing in the repository points outside it: a clone has nothing beside
// it.
func TestNoReferenceOutsideTheRepository(t *testing.T) {
	outside := "../" + "shared"
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > 4<<20 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		require.False(t, strings.Contains(string(b), outside), "%s refers to a file outside the repository", path)
		return nil
	})
	require.NoError(t, err)
}
