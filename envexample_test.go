package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// envLine is one assignment in .env.example, active or a commented-out
// example ("# KEY=value").
var envLine = regexp.MustCompile(`^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$`)

// .env.example lists every variable, says that values with spaces must
// be quoted and quotes its own; sourced by a shell with every example
// uncommented, each value arrives whole.
func TestEnvExample(t *testing.T) {
	raw, err := os.ReadFile(".env.example")
	require.NoError(t, err)
	text := string(raw)
	require.Contains(t, text, "Values with spaces must be quoted")

	// Each assignment, with the value a shell should see; a key may have
	// a commented-out example besides its default.
	type assignment struct{ key, value string }
	var all []assignment
	keys := map[string]bool{}
	var script strings.Builder
	script.WriteString("set -eu\n")
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		m := envLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		key, value := m[1], m[2]
		if strings.ContainsAny(value, " \t") {
			require.True(t, len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"', "%s has spaces but is not quoted: %s", key, value)
		}
		all = append(all, assignment{key, strings.Trim(value, `"`)})
		keys[key] = true
		// Source the line as written, then print what the shell made of it.
		script.WriteString(key + "=" + value + "\nprintf '%s=%s\\n' " + key + ` "$` + key + `"` + "\n")
	}
	goodbyes := 0
	for _, a := range all {
		if a.key == "WALEAVE_DEFAULT_GOODBYE" && strings.Contains(a.value, " ") {
			goodbyes++
		}
	}
	require.Equal(t, 1, goodbyes, "a goodbye example, with spaces")
	for f := range reflect.TypeFor[config]().Fields() {
		if key := f.Tag.Get("envconfig"); key != "" {
			require.True(t, keys[key], ".env.example lists %s", key)
		}
	}

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to source .env.example with")
	}
	file := filepath.Join(t.TempDir(), "env")
	require.NoError(t, os.WriteFile(file, []byte(script.String()), 0o600))
	out, err := exec.Command(bash, file).CombinedOutput()
	require.NoError(t, err, "sourcing .env.example: %s", out)
	var got []assignment
	for line := range strings.Lines(string(out)) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		got = append(got, assignment{k, v})
	}
	require.Equal(t, all, got)
}
