package fake

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProductionDoesNotImportFake checks, with go list, that no package
// of the module, its tests left out, depends on this one: the fakes are
// for tests only, and a binary must not carry them.
func TestProductionDoesNotImportFake(t *testing.T) {
	const self = "github.com/waleave/waleave/fake"
	// go test caches a result by the files the test itself opens, not
	// those go list reads: stat every Go file so that an edit runs it
	// again.
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}: {{join .Deps \" \"}}", "github.com/waleave/waleave/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ": ")
		if !strings.HasPrefix(pkg, "github.com/waleave/waleave") || pkg == self {
			continue
		}
		checked++
		for _, d := range strings.Fields(deps) {
			if d == self {
				t.Errorf("%s imports %s (directly or not); only tests may", pkg, self)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("go list named %d of the module's packages; want them all:\n%s", checked, out)
	}
}
