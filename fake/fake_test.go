package fake

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestEnforceRates checks the fake's rate enforcement against each
// provider's documented counting: Green API per method per instance per
// second, RyzeAPI per token per minute with its X-RateLimit-* headers,
// Wawp the stand-in per instance per second; a 429 in the provider's
// shape beyond the limit, and 429s are not counted against the caller.
func TestEnforceRates(t *testing.T) {
	call := func(t *testing.T, method, u string, header map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, u, strings.NewReader(`{"groupId":"1@g.us"}`))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	t.Run("greenapi", func(t *testing.T) {
		g := NewProvider(t, "greenapi")
		g.EnforceRates()
		for i := range 11 {
			resp, body := call(t, "POST", g.URL+"/waInstance1/leaveGroup/tok", nil)
			if want := map[bool]int{true: 200, false: 429}[i < 10]; resp.StatusCode != want {
				t.Fatalf("leave %d: %d %s, want %d", i+1, resp.StatusCode, body, want)
			}
			if i == 10 && body != "Too Many Requests" {
				t.Fatalf("429 body %q", body)
			}
		}
		// Another method and another instance have counters of their own.
		if resp, _ := call(t, "POST", g.URL+"/waInstance1/getGroupData/tok", nil); resp.StatusCode != 200 {
			t.Fatalf("getGroupData: %d", resp.StatusCode)
		}
		if resp, _ := call(t, "POST", g.URL+"/waInstance1/getGroupData/tok", nil); resp.StatusCode != 429 {
			t.Fatalf("second getGroupData within a second: %d", resp.StatusCode)
		}
		if resp, _ := call(t, "POST", g.URL+"/waInstance2/getGroupData/tok", nil); resp.StatusCode != 200 {
			t.Fatalf("another instance's getGroupData: %d", resp.StatusCode)
		}
		if n := g.Limited(); n != 2 {
			t.Fatalf("Limited() = %d, want 2", n)
		}
		calls := g.Calls("leave")
		if len(calls) != 11 || calls[0].Op != "leaveGroup" || calls[0].Limited || !calls[10].Limited {
			t.Fatalf("leave calls recorded wrong: %+v", calls)
		}
	})
	t.Run("ryzeapi", func(t *testing.T) {
		g := NewProvider(t, "ryzeapi")
		g.EnforceRates()
		start := time.Now()
		for i := range 100 {
			resp, _ := call(t, "GET", g.URL+"/api/group/list/inst", map[string]string{"token": "a"})
			if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Remaining") != fmt.Sprint(99-i) || resp.Header.Get("X-RateLimit-Limit") != "100" {
				t.Fatalf("call %d: %d remaining %q", i+1, resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
			}
		}
		resp, body := call(t, "DELETE", g.URL+"/api/group/leave/inst?identifier=1%40g.us", map[string]string{"token": "a"})
		if resp.StatusCode != 429 || body != `{"success":false,"error":{"message":"Rate limit exceeded. Try again later."}}` {
			t.Fatalf("101st call in a minute: %d %s", resp.StatusCode, body)
		}
		reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
		if err != nil || reset < start.Add(time.Minute).Unix() || reset > time.Now().Add(time.Minute).Unix()+1 {
			t.Fatalf("X-RateLimit-Reset %q: want when the first call leaves the minute", resp.Header.Get("X-RateLimit-Reset"))
		}
		if resp, _ := call(t, "GET", g.URL+"/api/group/list/inst", map[string]string{"token": "b"}); resp.StatusCode != 200 {
			t.Fatalf("another token: %d", resp.StatusCode)
		}
		if g.Calls("leave")[0].Op != "group/leave" {
			t.Fatalf("op %q", g.Calls("leave")[0].Op)
		}
	})
	t.Run("wawp", func(t *testing.T) {
		g := NewProvider(t, "wawp")
		g.EnforceRates()
		for i := range WawpRate + 1 {
			resp, body := call(t, "POST", g.URL+"/v2/groups/1%40g.us/leave?instance_id=i1&access_token=x", nil)
			if want := map[bool]int{true: 200, false: 429}[i < WawpRate]; resp.StatusCode != want {
				t.Fatalf("leave %d: %d %s, want %d", i+1, resp.StatusCode, body, want)
			}
		}
		if op := g.Calls("leave")[0].Op; op != "groups/leave" {
			t.Fatalf("op %q", op)
		}
	})
}
