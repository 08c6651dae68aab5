// Command flood measures what a flood of forged-signature requests makes
// waleave hold. It starts the waleave binary it is given on a loopback
// port, with a stand-in for Slack and the gateway of its own (also on
// loopback), opens -n connections that each send headers that look
// signed (a fresh timestamp, "v0=" and 64 hex characters) and a body of
// -size bytes to POST /slack/commands (all but the last byte, which
// follows -hold later, so that the server holds every body it reads at
// once), and reports the server's resident
// memory before, at its peak during, and -settle after the connections
// closed, with how the requests were answered.
//
//	CGO_ENABLED=0 go build -trimpath -o /tmp/waleave . && go run ./bench/flood -bin /tmp/waleave
//	go run ./bench/flood -bin /tmp/waleave -size 262144   # bodies at the cap
//
// It only ever talks to the server it started, on 127.0.0.1, and is
// bounded: at most 2,000 connections, and -timeout for the whole run.
// Linux only (it reads /proc).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "", "the waleave binary to start (required)")
	n := flag.Int("n", 500, "connections, each with one forged request (at most 2000)")
	size := flag.Int("size", 1<<20, "body bytes each request announces and sends")
	hold := flag.Duration("hold", 3*time.Second, "how long every body is held one byte short of its end (at most 30s)")
	settle := flag.Duration("settle", 10*time.Second, "wait after the flood before the last reading")
	timeout := flag.Duration("timeout", 2*time.Minute, "bound on the whole run")
	flag.Parse()
	if *bin == "" || *n < 1 || *n > 2000 || *size < 0 || *size > 8<<20 || *hold < 0 || *hold > 30*time.Second {
		fmt.Fprintln(os.Stderr, "usage: flood -bin PATH [-n 1..2000] [-size 0..8MiB] [-hold 3s] [-settle 10s] [-timeout 2m]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *bin, *n, *size, *hold, *settle); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string, n, size int, hold, settle time.Duration) error {
	stub, err := startStub()
	if err != nil {
		return err
	}
	defer stub.Close()
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "waleave-flood")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(),
		"SLACK_BOT_TOKEN=xoxb-flood", "SLACK_SIGNING_SECRET=flood-secret",
		"SLACK_API_URL=http://"+stub.Addr+"/api/", "WA_PROVIDER=greenapi", "WA_API_URL=http://"+stub.Addr,
		"WA_INSTANCE=1101000001", "WA_TOKEN=flood-token", "WALEAVE_ALLOWED_USERS=U0FLOOD001",
		"DATABASE_URL=sqlite:"+filepath.Join(dir, "flood.db"), "LISTEN_ADDR="+addr, "LOG_LEVEL=error",
	)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if err := waitHealthy(ctx, addr); err != nil {
		return err
	}
	time.Sleep(time.Second) // start-up's own work (migrations, first refresh) settles
	before, _ := procKB(pid, "VmRSS")

	// Sample while the flood runs; VmHWM, the kernel's own peak, backs it.
	var peak int
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if kb, err := procKB(pid, "VmRSS"); err == nil && kb > peak {
				peak = kb
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()

	start := time.Now()
	answers := flood(ctx, addr, n, size, hold)
	elapsed := time.Since(start)
	close(stop)
	<-sampled
	hwm, _ := procKB(pid, "VmHWM")

	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	after, _ := procKB(pid, "VmRSS")
	alive := cmd.Process.Signal(syscall.Signal(0)) == nil

	fmt.Printf("flood: %d connections, %d-byte forged bodies, %s\n", n, size, elapsed.Round(time.Millisecond))
	fmt.Printf("answers: %s\n", answers)
	fmt.Printf("RSS before %s, peak during %s (VmHWM %s), %s after %s\n", mb(before), mb(peak), mb(hwm), settle, mb(after))
	fmt.Printf("after, the runtime's view: %s\n", runtimeView(addr))
	if !alive {
		return errors.New("the server exited")
	}
	return nil
}

// holdFor bounds how long the flood waits for every connection to have
// sent all of its body but the last byte.
const holdFor = 15 * time.Second

// flood opens n connections at once, each sending one forged request,
// keeps every connection open until all have been answered (or gave up),
// and tallies the answers.
func flood(ctx context.Context, addr string, n, size int, hold time.Duration) string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	head := "POST /slack/commands HTTP/1.1\r\nHost: " + addr + "\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\n" +
		"X-Slack-Request-Timestamp: " + ts + "\r\n" +
		"X-Slack-Signature: v0=" + strings.Repeat("ab", 32) + "\r\n" +
		"Content-Length: " + strconv.Itoa(size) + "\r\n\r\n"
	chunk := []byte(strings.Repeat("a", 32<<10))

	// Every body is sent but for its last byte; the last bytes go once
	// all have got that far (or after holdFor), so the server holds as
	// many bodies at once as it lets itself be made to.
	var arrived sync.WaitGroup
	arrived.Add(n)
	release := make(chan struct{})
	go func() {
		done := make(chan struct{})
		go func() { arrived.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(holdFor):
		}
		// The kernel took the bytes; give the server time to read them.
		time.Sleep(hold)
		close(release)
	}()

	var mu sync.Mutex
	tally := map[string]int{}
	var wg sync.WaitGroup
	var conns []net.Conn
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 10 * time.Second}
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				arrived.Done()
				mu.Lock()
				tally["dial error"]++
				mu.Unlock()
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			deadline, _ := ctx.Deadline()
			_ = c.SetDeadline(deadline)
			answer := send(c, head, chunk, size, arrived.Done, release)
			mu.Lock()
			tally[answer]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	keys := make([]string, 0, len(tally))
	for k := range tally {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, tally[k]))
	}
	return strings.Join(parts, ", ")
}

// send writes one request and reads the status of its answer. The writer
// runs beside the reader: the server may answer (413, 503) without
// reading the body, and then the write would block.
func send(c net.Conn, head string, chunk []byte, size int, arrived func(), release <-chan struct{}) string {
	go func() {
		var once sync.Once
		defer once.Do(arrived)
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		for left := size - 1; left > 0; {
			k := min(left, len(chunk))
			if _, err := c.Write(chunk[:k]); err != nil {
				return
			}
			left -= k
		}
		once.Do(arrived)
		<-release
		if size > 0 {
			_, _ = c.Write(chunk[:1])
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "no answer"
	}
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// startStub answers as Slack and the gateway would, enough for waleave
// to start: auth.test and every other Web API method with ok, the
// gateway with an authorized instance and no groups.
func startStub() (*stubServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/auth.test"):
			fmt.Fprint(w, `{"ok":true,"url":"https://flood.slack.com/","team":"Flood","user":"waleave","team_id":"T1","user_id":"U0BOT"}`)
		case strings.HasPrefix(r.URL.Path, "/api/"):
			fmt.Fprint(w, `{"ok":true}`)
		case strings.Contains(r.URL.Path, "/getStateInstance/"):
			fmt.Fprint(w, `{"stateInstance":"authorized"}`)
		default:
			fmt.Fprint(w, `[]`)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	return &stubServer{Server: srv, Addr: ln.Addr().String()}, nil
}

type stubServer struct {
	*http.Server
	Addr string
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(ctx context.Context, addr string) error {
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waleave did not become healthy: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// procKB reads one "Name:   123 kB" line of /proc/PID/status.
func procKB(pid int, name string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

func mb(kb int) string { return fmt.Sprintf("%.1f MB", float64(kb)/1000) }

// runtimeView is a few of the server's own memory metrics (GET /metrics):
// where the resident memory that is left is.
func runtimeView(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	want := []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes", "go_memstats_stack_inuse_bytes"}
	got := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && !strings.HasPrefix(name, "#") {
			got[name] = value
		}
	}
	var parts []string
	for _, k := range want {
		v, err := strconv.ParseFloat(got[k], 64)
		switch {
		case err != nil:
		case strings.HasSuffix(k, "_bytes"):
			parts = append(parts, fmt.Sprintf("%s %.1f MB", strings.TrimSuffix(strings.TrimPrefix(k, "go_memstats_"), "_bytes"), v/1e6))
		default:
			parts = append(parts, fmt.Sprintf("%s %.0f", strings.TrimPrefix(k, "go_"), v))
		}
	}
	return strings.Join(parts, ", ")
}
