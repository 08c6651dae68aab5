package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var demoDatabase = regexp.MustCompile(`Database: (\S+)`)

// requireInOrder checks that each of want appears in s after the one
// before it.
func requireInOrder(t *testing.T, s string, want ...string) {
	t.Helper()
	at := 0
	for _, w := range want {
		i := strings.Index(s[at:], w)
		require.True(t, i >= 0, "%q missing after byte %d of:\n%s", w, at, s)
		at += i + len(w)
	}
}

// waleave demo, with an empty environment and nothing but loopback,
// runs a request through the real handlers to its outcome, prints what
// Slack and WhatsApp received at each step, and removes its database.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out, errOut syncBuffer
	err := run(t.Context(), []string{"demo"}, func(string) string { return "" }, &out, &errOut)
	require.NoError(t, err, errOut.String())
	s := out.String()
	requireInOrder(t, s,
		"1. @ana types in #ops:  /wa-leave 120363000000000102@g.us Thanks for everything, and goodbye!",
		"waleave answers at once", "recorded", "Dry run",
		"Slack ← chat.postMessage to #ops, the confirmation card:",
		"LEAVE THIS WHATSAPP GROUP? (DRY RUN)", "Dry run: nothing is sent to WhatsApp", "*Suppliers Lisbon*",
		"*Requested by*: @ana", "The instance is*: an admin", "> Thanks for everything, and goodbye!", "[ Leave group ]  [ Cancel ]",
		"2. @ben presses Leave group", "acknowledges the click (HTTP 200)",
		"WhatsApp ← sendMessage to 120363000000000102@g.us", "Thanks for everything, and goodbye!",
		"WhatsApp ← leaveGroup 120363000000000102@g.us (not sent: dry run) → left; the instance was an admin",
		"That is the whole flow.",
	)
	requireInOrder(t, s, "WhatsApp ← leaveGroup", "Slack ← chat.postMessage, a reply in the card's thread:",
		"Left the WhatsApp group *Suppliers Lisbon*, where the instance was an admin.", "Dry run")
	requireInOrder(t, s, "WhatsApp ← leaveGroup", "Slack ← chat.update", "LEFT THIS WHATSAPP GROUP (DRY RUN)", "Done: left the group")
	require.NotContains(t, s, "\t", "no raw JSON or tab-separated output")

	m := demoDatabase.FindStringSubmatch(s)
	require.NotNil(t, m, "names its database")
	_, err = os.Stat(filepath.Dir(m[1]))
	require.True(t, os.IsNotExist(err), "the temporary directory %s is removed: %v", filepath.Dir(m[1]), err)
}

var curlLine = regexp.MustCompile(`curl -sS (\S+) -H 'X-Slack-Request-Timestamp: (\d+)' -H 'X-Slack-Signature: (v0=[0-9a-f]+)' --data-raw '([^']*)'`)

// curlAs sends the request a printed curl line describes, as curl would.
func curlAs(t *testing.T, line []string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, line[1], strings.NewReader(line[4]))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // curl's default for --data-raw
	req.Header.Set("X-Slack-Request-Timestamp", line[2])
	req.Header.Set("X-Slack-Signature", line[3])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// waleave demo --keep goes on serving after the flow and prints a signed
// curl line that asks for another group; the card that follows comes
// with a curl line that confirms it. It stops cleanly when told to.
func TestDemo_Keep(t *testing.T) {
	t.Parallel()
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"demo", "--keep"}, func(string) string { return "" }, &out, &errOut) }()

	eventually(t, 30*time.Second, func() bool { return len(curlLine.FindAllString(out.String(), -1)) == 1 }, "no curl line:\n%s", out.String())
	require.Equal(t, 200, curlAs(t, curlLine.FindStringSubmatch(out.String())))
	eventually(t, 10*time.Second, func() bool { return len(curlLine.FindAllString(out.String(), -1)) == 2 }, "no confirm line:\n%s", out.String())
	require.Contains(t, out.String(), "*Summer party 2026*")
	require.Contains(t, out.String(), "The instance is*: the *only* admin")
	require.Equal(t, 200, curlAs(t, curlLine.FindAllStringSubmatch(out.String(), -1)[1]))
	eventually(t, 20*time.Second, func() bool {
		return strings.Contains(out.String(), "Left the WhatsApp group *Summer party 2026*")
	}, "the second request did not finish:\n%s", out.String())

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("demo --keep did not stop")
	}
	m := demoDatabase.FindStringSubmatch(out.String())
	_, err := os.Stat(filepath.Dir(m[1]))
	require.True(t, os.IsNotExist(err), "the temporary directory is removed")
}

func TestDemo_RefusesUnknownArguments(t *testing.T) {
	for _, args := range [][]string{{"demo", "--frobnicate"}, {"demo", "extra"}} {
		require.Error(t, run(t.Context(), args, func(string) string { return "" }, &strings.Builder{}, &strings.Builder{}), args)
	}
}
