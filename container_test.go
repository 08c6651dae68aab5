package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// dockerInstruction is one instruction of a Dockerfile, its continuation
// lines joined.
type dockerInstruction struct{ cmd, args string }

func readDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	f, err := os.Open("Dockerfile")
	require.NoError(t, err)
	defer f.Close()
	var out []dockerInstruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	require.NoError(t, sc.Err())
	return out
}

// The image is built in stages into a static binary on an image with no
// shell, runs as a non-root user with the binary as its entry point, and
// copies only files that exist. (CI builds the binary the same way and
// runs the demo with it; see .ci/run.)
func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	var froms []string
	var user, entrypoint string
	build := ""
	stage := 0
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in.args)
			stage = len(froms)
			user = "" // USER is per stage
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "RUN":
			if strings.Contains(in.args, "go build") {
				build = in.args
			}
		case "COPY":
			fields := strings.Fields(in.args)
			if slicesContainsPrefix(fields, "--from=") {
				continue
			}
			var srcs []string
			for _, f := range fields[:len(fields)-1] {
				if !strings.HasPrefix(f, "--") {
					srcs = append(srcs, f)
				}
			}
			for _, src := range srcs {
				_, err := os.Stat(src)
				require.NoError(t, err, "stage %d copies %s, which must exist", stage, src)
			}
		case "HEALTHCHECK":
			t.Errorf("HEALTHCHECK needs a shell or a probe binary, which the image has not: %s", in.args)
		}
	}
	require.GreaterOrEqual(t, len(froms), 2, "multi-stage")
	final := froms[len(froms)-1]
	require.Regexp(t, `^(gcr\.io/distroless/static|scratch)`, final, "the final stage has no shell")
	require.NotEmpty(t, user, "the final stage sets USER")
	require.NotRegexp(t, `^(root|0)(:|$)`, user, "non-root")
	require.True(t, strings.HasPrefix(entrypoint, "["), "ENTRYPOINT in exec form (no shell): %s", entrypoint)
	require.Contains(t, entrypoint, "waleave")
	require.Contains(t, build, "CGO_ENABLED=0", "a static binary")
	require.Contains(t, build, "-trimpath")

	ignore, err := os.ReadFile(".dockerignore")
	require.NoError(t, err)
	for _, must := range []string{".env", "*.db"} {
		require.Contains(t, strings.Fields(string(ignore)), must, "secrets and databases stay out of the build context")
	}
}

func slicesContainsPrefix(s []string, prefix string) bool {
	for _, v := range s {
		if strings.HasPrefix(v, prefix) {
			return true
		}
	}
	return false
}

// yamlDocs reads every document of a YAML file into generic maps.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err, path)
		docs = append(docs, d)
	}
}

// dig follows keys (map keys, or list indexes as "0") through a document.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// compose.yaml runs two replicas of the image on PostgreSQL.
func TestComposeFile(t *testing.T) {
	docs := yamlDocs(t, "compose.yaml")
	require.Len(t, docs, 1)
	c := docs[0]
	require.Contains(t, dig(c, "services", "db", "image"), "postgres")
	require.Equal(t, ".", dig(c, "services", "waleave", "build"))
	require.Equal(t, 2, dig(c, "services", "waleave", "deploy", "replicas"))
	dsn, _ := dig(c, "services", "waleave", "environment", "DATABASE_URL").(string)
	require.True(t, strings.HasPrefix(dsn, "postgres://"), dsn)
	require.Equal(t, "service_healthy", dig(c, "services", "waleave", "depends_on", "db", "condition"))
}

// The Kubernetes examples: SQLite with one pod, Recreate and a volume
// claim; PostgreSQL with several replicas; both probe /healthz and
// /readyz and run as non-root.
func TestKubernetesExamples(t *testing.T) {
	files, err := filepath.Glob("deploy/kubernetes/*.yaml")
	require.NoError(t, err)
	require.Len(t, files, 2)
	seen := map[string]bool{}
	for _, path := range files {
		var deployment map[string]any
		claims := map[string]bool{}
		for _, d := range yamlDocs(t, path) {
			switch d["kind"] {
			case "Deployment":
				deployment = d
			case "PersistentVolumeClaim":
				claims[dig(d, "metadata", "name").(string)] = true
			}
		}
		require.NotNil(t, deployment, path)
		pod := dig(deployment, "spec", "template", "spec")
		container := dig(pod, "containers", "0")
		require.Equal(t, "/healthz", dig(container, "livenessProbe", "httpGet", "path"), path)
		require.Equal(t, "/readyz", dig(container, "readinessProbe", "httpGet", "path"), path)
		require.Equal(t, true, dig(pod, "securityContext", "runAsNonRoot"), path)
		require.GreaterOrEqual(t, dig(pod, "terminationGracePeriodSeconds"), 25, "%s: time for running leaves to finish", path)

		env := map[string]string{}
		for _, e := range dig(container, "env").([]any) {
			env[dig(e, "name").(string)], _ = dig(e, "value").(string)
		}
		replicas := dig(deployment, "spec", "replicas").(int)
		if strings.HasPrefix(env["DATABASE_URL"], "sqlite:") {
			seen["sqlite"] = true
			require.Equal(t, 1, replicas, path)
			require.Equal(t, "Recreate", dig(deployment, "spec", "strategy", "type"), "%s: never two processes on one SQLite file", path)
			var claim string
			for _, v := range dig(pod, "volumes").([]any) {
				if c, ok := dig(v, "persistentVolumeClaim", "claimName").(string); ok {
					claim = c
				}
			}
			require.True(t, claims[claim], "%s: the volume's claim %q is defined", path, claim)
			mounted := regexp.MustCompile(`^sqlite:/data/`).MatchString(env["DATABASE_URL"])
			require.True(t, mounted, "%s: the database is on the volume", path)
		} else {
			seen["postgres"] = true
			require.GreaterOrEqual(t, replicas, 2, path)
		}
	}
	require.True(t, seen["sqlite"] && seen["postgres"], "one example of each: %v", seen)
}
