package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/waleave/waleave/bot"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// The demo's cast: two people allowed to use the bot, in one channel.
const (
	demoRequester = "U0DEMOANA"
	demoConfirmer = "U0DEMOBEN"
	demoChannel   = "C0DEMOOPS"
	demoGoodbye   = "Thanks for everything, and goodbye!"
	// demoWait bounds each step: the card and its updates go out at
	// Slack's pace of about one message a second per channel.
	demoWait = 30 * time.Second
)

// demoNames are the cast's names, for showing mentions readably.
func demoNames() map[string]string {
	return map[string]string{demoRequester: "@ana", demoConfirmer: "@ben", demoChannel: "#ops"}
}

// runDemo implements `waleave demo [--keep]` (SPEC §8): it runs the real
// program (serve) on a temporary SQLite database, with a stand-in for
// Slack and the dry-run gateway, sends a signed /wa-leave and a confirm
// click through the real HTTP handlers, and prints what Slack and
// WhatsApp would have received. It needs no account, no environment and
// no network. With --keep it goes on serving, and prints ready signed
// curl lines, until SIGINT or SIGTERM.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keep := fs.Bool("keep", false, "keep serving after the demo, and print signed curl lines to try more")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: waleave demo [--keep]")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("demo: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}

	dir, err := os.MkdirTemp("", "waleave-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)
	secret := make([]byte, 16)
	_, _ = rand.Read(secret) // never fails (crypto/rand)

	p := &demoPrinter{w: stdout, names: demoNames(), secret: hex.EncodeToString(secret)}
	sl, err := startStandInSlack(p.slack)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer sl.Close()
	p.standIn = sl

	env := map[string]string{
		"SLACK_BOT_TOKEN":       "xoxb-demo",
		"SLACK_SIGNING_SECRET":  p.secret,
		"SLACK_API_URL":         sl.APIURL(),
		"WA_PROVIDER":           whatsapp.DryRunProvider,
		"WALEAVE_ALLOWED_USERS": demoRequester + "," + demoConfirmer,
		"DATABASE_URL":          "sqlite:" + filepath.Join(dir, "waleave.db"),
		"LISTEN_ADDR":           "127.0.0.1:0",
		"LOG_LEVEL":             "warn",
	}
	// The program's own logs only matter when something goes wrong, or
	// while it keeps serving.
	var logs io.Writer = &demoLogs{}
	if *keep {
		logs = stderr
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	listening := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, func(k string) string { return env[k] }, logs, serveHooks{
			serving: func(addr string) { listening <- addr },
			dryRun:  p.whatsapp,
		})
	}()
	// stop ends the program and waits for it, so that the database is
	// closed before its directory is removed.
	stop := func() error {
		cancel()
		return <-served
	}

	fmt.Fprintf(stdout, "waleave demo: the real program, with a stand-in for Slack and the dry-run WhatsApp gateway.\n")
	fmt.Fprintf(stdout, "Nothing leaves this machine. Database: %s (deleted at the end).\n", filepath.Join(dir, "waleave.db"))
	var addr string
	select {
	case addr = <-listening:
	case err := <-served:
		return fmt.Errorf("demo: waleave did not start: %w%s", err, logsOf(logs))
	case <-time.After(demoWait):
		return errors.Join(errors.New("demo: waleave did not start in time"+logsOf(logs)), stop())
	}
	p.base = "http://" + addr

	if err := p.flow(ctx); err != nil {
		return errors.Join(fmt.Errorf("demo: %w%s", err, logsOf(logs)), stop())
	}
	if !*keep {
		if err := stop(); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		fmt.Fprintln(stdout, "\nThat is the whole flow. To try it in your own Slack workspace before connecting a")
		fmt.Fprintln(stdout, "WhatsApp number, run waleave with WA_PROVIDER=dryrun and only the Slack variables set.")
		return nil
	}

	p.mu.Lock()
	p.keep = true
	fmt.Fprintf(stdout, "\nwaleave keeps serving at %s until Ctrl-C. Ask for another group (signatures are good for 5 minutes):\n\n", p.base)
	fmt.Fprintf(stdout, "  %s\n\n", p.commandCurl(demoRequester, "\"Summer party 2026\""))
	fmt.Fprintln(stdout, "Each new card is followed by a curl line that confirms it.")
	p.mu.Unlock()
	// serve stops on SIGINT or SIGTERM (or when ctx ends).
	if err := <-served; err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// demoLogs keeps the program's logs for an error message.
type demoLogs struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *demoLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// logsOf is what the program logged, to add to an error.
func logsOf(w io.Writer) string {
	if l, ok := w.(*demoLogs); ok {
		l.mu.Lock()
		defer l.mu.Unlock()
		if s := strings.TrimSpace(l.buf.String()); s != "" {
			return "\nwaleave logged:\n" + s
		}
	}
	return ""
}

// demoPrinter drives the demo and prints, as they happen, what Slack
// and WhatsApp receive. Its methods are called from the stand-in's and
// the gateway's goroutines, so it prints under mu.
type demoPrinter struct {
	w       io.Writer
	names   map[string]string
	secret  string
	base    string // where waleave serves
	standIn *standInSlack

	mu   sync.Mutex
	keep bool // serving on: print a confirm curl line under each new card
	// While holding, what Slack and WhatsApp receive is kept back, so
	// that it prints after the step that caused it, not in its middle.
	holding bool
	held    []string
}

// hold keeps what Slack and WhatsApp receive back until release.
func (p *demoPrinter) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding = true
}

// release prints what was kept back and stops holding.
func (p *demoPrinter) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.held {
		io.WriteString(p.w, s)
	}
	p.held, p.holding = nil, false
}

// emit prints s, or keeps it back while holding. Callers hold mu.
func (p *demoPrinter) emit(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if p.holding {
		p.held = append(p.held, s)
		return
	}
	io.WriteString(p.w, s)
}

// flow is the demo proper: a request, its card, a confirm click, and
// the outcome in the card's thread.
func (p *demoPrinter) flow(ctx context.Context) error {
	group := whatsapp.DryRunGroups()[1]
	text := group.JID + " " + demoGoodbye
	p.printf("\n1. %s types in %s:  /wa-leave %s\n", p.name(demoRequester), p.name(demoChannel), text)
	p.hold()
	status, body, err := p.post(ctx, "/slack/commands", p.commandForm(demoRequester, text))
	defer p.release()
	if err != nil {
		return fmt.Errorf("send /wa-leave: %w", err)
	}
	var ack struct {
		Text string `json:"text"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &ack) != nil {
		return fmt.Errorf("/wa-leave answered %d: %s", status, body)
	}
	p.printf("   waleave answers at once, for %s's eyes only (HTTP %d):\n%s", p.name(demoRequester), status, p.indent(ack.Text, "     "))
	p.release()

	card, err := p.standIn.waitFor(ctx, demoWait, func(c standInCall) bool {
		return c.Method == "chat.postMessage" && c.Form.Get("thread_ts") == ""
	})
	if err != nil {
		return fmt.Errorf("no card was posted: %w", err)
	}
	requestID, blockID := cardButton(card.Form.Get("blocks"), templates.ActionConfirm)
	if requestID == "" {
		return errors.New("the card has no Leave group button")
	}

	p.printf("\n2. %s presses Leave group on the card, and Leave group again in Slack's dialog.\n", p.name(demoConfirmer))
	p.hold()
	status, body, err = p.post(ctx, "/slack/interactions", p.clickForm(demoConfirmer, card.TS, blockID, requestID))
	if err != nil {
		return fmt.Errorf("send the click: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("the click was answered %d: %s", status, body)
	}
	p.printf("   waleave records the confirmation, then acknowledges the click (HTTP %d).\n", status)
	p.release()

	if _, err := p.standIn.waitFor(ctx, demoWait, func(c standInCall) bool {
		return c.Method == "chat.postMessage" && c.Form.Get("thread_ts") == card.TS
	}); err != nil {
		return fmt.Errorf("no outcome in the card's thread: %w", err)
	}
	// The card's last update follows the reply or precedes it; either
	// way the flow is over once the card shows its final state.
	if _, err := p.standIn.waitFor(ctx, demoWait, func(c standInCall) bool {
		return c.Method == "chat.update" && c.TS == card.TS && !strings.Contains(c.Form.Get("blocks"), `"leave_status.running"`) &&
			!strings.Contains(c.Form.Get("blocks"), `"leave_status.confirmed"`)
	}); err != nil {
		return fmt.Errorf("the card did not reach its final state: %w", err)
	}
	return nil
}

// slack prints one call the stand-in for Slack received.
func (p *demoPrinter) slack(c standInCall) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch c.Method {
	case "chat.postMessage":
		if ts := c.Form.Get("thread_ts"); ts != "" {
			p.emit("   Slack ← chat.postMessage, a reply in the card's thread:\n%s", p.indent(c.Form.Get("text"), "     │ "))
			return
		}
		p.emit("   Slack ← chat.postMessage to %s, the confirmation card:\n%s", p.name(c.Form.Get("channel")), p.indent(p.blocks(c.Form.Get("blocks"), false), "     │ "))
		if p.keep {
			if id, block := cardButton(c.Form.Get("blocks"), templates.ActionConfirm); id != "" {
				p.emit("   To confirm it:\n\n     %s\n\n", p.clickCurl(demoConfirmer, c.TS, block, id))
			}
		}
	case "chat.update":
		p.emit("   Slack ← chat.update, the card now reads:\n%s", p.indent(p.blocks(c.Form.Get("blocks"), true), "     │ "))
	case "chat.postEphemeral", "response_url":
		who := p.name(c.Form.Get("user"))
		if c.Method == "response_url" {
			who = "whoever acted"
		}
		p.emit("   Slack ← %s, for %s only:\n%s", c.Method, who, p.indent(c.Form.Get("text"), "     │ "))
	}
}

// whatsapp prints one call the dry-run gateway answered instead of
// sending it.
func (p *demoPrinter) whatsapp(c whatsapp.DryRunCall) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch c.Op {
	case "sendMessage":
		p.emit("   WhatsApp ← sendMessage to %s (the goodbye; not sent: dry run) → %s:\n%s", c.Chat, c.Result, p.indent(c.Text, "     │ "))
	case "setGroupAdmin":
		p.emit("   WhatsApp ← setGroupAdmin %s in %s (not sent: dry run) → %s\n", c.Participant, c.Chat, c.Result)
	default:
		p.emit("   WhatsApp ← %s %s (not sent: dry run) → %s\n", c.Op, c.Chat, c.Result)
	}
}

func (p *demoPrinter) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

// name shows a demo user or channel by name.
func (p *demoPrinter) name(id string) string {
	if n, ok := p.names[id]; ok {
		return n
	}
	return id
}

// slackMarkup matches what Slack shows other than as written: mentions,
// dates (shown by their fallback text) and the three escapes.
var slackMarkup = regexp.MustCompile(`<@([A-Z0-9]+)>|<!date\^[^|>]*\|([^>]*)>|&amp;|&lt;|&gt;`)

// readable is mrkdwn roughly as Slack shows it.
func (p *demoPrinter) readable(s string) string {
	return slackMarkup.ReplaceAllStringFunc(s, func(m string) string {
		switch m {
		case "&amp;":
			return "&"
		case "&lt;":
			return "<"
		case "&gt;":
			return ">"
		}
		sub := slackMarkup.FindStringSubmatch(m)
		if sub[1] != "" {
			return p.name(sub[1])
		}
		return sub[2]
	})
}

// indent prefixes every line of s, made readable, and ends it with a
// newline.
func (p *demoPrinter) indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(p.readable(s), "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}

// demoBlock is the part of a Block Kit block the demo shows.
type demoBlock struct {
	Type    string `json:"type"`
	BlockID string `json:"block_id"`
	Text    *struct {
		Text string `json:"text"`
	} `json:"text"`
	Fields []struct {
		Text string `json:"text"`
	} `json:"fields"`
	Elements []struct {
		Type     string `json:"type"`
		Text     any    `json:"text"`
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"elements"`
	Accessory *struct {
		Placeholder struct {
			Text string `json:"text"`
		} `json:"placeholder"`
	} `json:"accessory"`
}

// blocks shows a card as text: the header, the group, the goodbye,
// notes, the status line and the buttons. brief keeps only the header,
// the notes and the status line, for updates.
func (p *demoPrinter) blocks(raw string, brief bool) string {
	var bs []demoBlock
	if err := json.Unmarshal([]byte(raw), &bs); err != nil {
		return "(blocks that could not be read)"
	}
	var out []string
	for _, b := range bs {
		switch b.Type {
		case "header":
			if b.Text != nil {
				out = append(out, strings.ToUpper(b.Text.Text))
			}
		case "section":
			if brief {
				continue
			}
			if b.Text != nil {
				out = append(out, b.Text.Text)
			}
			var fields []string
			for _, f := range b.Fields {
				fields = append(fields, strings.Replace(f.Text, "\n", ": ", 1))
			}
			if len(fields) > 0 {
				out = append(out, strings.Join(fields, " · "))
			}
			if b.Accessory != nil {
				out = append(out, "[ "+b.Accessory.Placeholder.Text+" ▾ ]")
			}
		case "context":
			var parts []string
			for _, e := range b.Elements {
				if s, ok := e.Text.(string); ok {
					parts = append(parts, s)
				}
			}
			out = append(out, strings.Join(parts, " · "))
		case "actions":
			var buttons []string
			for _, e := range b.Elements {
				if t, ok := e.Text.(map[string]any); ok {
					buttons = append(buttons, fmt.Sprintf("[ %v ]", t["text"]))
				}
			}
			out = append(out, strings.Join(buttons, "  "))
		}
	}
	return strings.Join(out, "\n")
}

// cardButton finds a button on a card: its value (the request ID) and
// its block's ID, which a click must carry.
func cardButton(raw, actionID string) (value, blockID string) {
	var bs []demoBlock
	if json.Unmarshal([]byte(raw), &bs) != nil {
		return "", ""
	}
	for _, b := range bs {
		for _, e := range b.Elements {
			if e.ActionID == actionID {
				return e.Value, b.BlockID
			}
		}
	}
	return "", ""
}

// commandForm is the body Slack posts for /wa-leave text.
func (p *demoPrinter) commandForm(user, text string) url.Values {
	return url.Values{
		"command": {"/wa-leave"}, "text": {text}, "user_id": {user}, "user_name": {strings.TrimPrefix(p.name(user), "@")},
		"channel_id": {demoChannel}, "channel_name": {strings.TrimPrefix(p.name(demoChannel), "#")}, "team_id": {"T0DEMO"},
		"response_url": {p.standIn.ResponseURL("command")}, "trigger_id": {"0.0.demo"},
	}
}

// clickForm is the body Slack posts when user presses the card's Leave
// group button: a block_actions payload whose action carries the
// button's block_id (an action without one is a legacy attachment
// action, which waleave ignores).
func (p *demoPrinter) clickForm(user, messageTS, blockID, requestID string) url.Values {
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "api_app_id": "A0DEMO", "team": map[string]any{"id": "T0DEMO"},
		"user":       map[string]any{"id": user, "username": strings.TrimPrefix(p.name(user), "@")},
		"container":  map[string]any{"type": "message", "message_ts": messageTS, "channel_id": demoChannel},
		"channel":    map[string]any{"id": demoChannel},
		"trigger_id": "0.0.demo", "response_url": p.standIn.ResponseURL("click"),
		"actions": []map[string]any{{
			"type": "button", "action_id": templates.ActionConfirm, "block_id": blockID, "value": requestID, "action_ts": messageTS,
		}},
	})
	return url.Values{"payload": {string(payload)}}
}

// signed is a request to waleave signed as Slack signs it.
func (p *demoPrinter) signed(ctx context.Context, path string, form url.Values) (*http.Request, string, error) {
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	now := time.Now()
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", fmt.Sprint(now.Unix()))
	req.Header.Set("X-Slack-Signature", bot.Sign(p.secret, now, []byte(body)))
	return req, body, nil
}

// post sends a signed request to waleave and returns its answer.
func (p *demoPrinter) post(ctx context.Context, path string, form url.Values) (int, []byte, error) {
	req, _, err := p.signed(ctx, path, form)
	if err != nil {
		return 0, nil, err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// curl is a ready curl command line for a signed request.
func (p *demoPrinter) curl(path string, form url.Values) string {
	req, body, err := p.signed(context.Background(), path, form)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	// The body is URL-encoded, so it holds no quote to break the line.
	return fmt.Sprintf("curl -sS %s -H 'X-Slack-Request-Timestamp: %s' -H 'X-Slack-Signature: %s' --data-raw '%s'",
		req.URL, req.Header.Get("X-Slack-Request-Timestamp"), req.Header.Get("X-Slack-Signature"), body)
}

func (p *demoPrinter) commandCurl(user, text string) string {
	return p.curl("/slack/commands", p.commandForm(user, text))
}

func (p *demoPrinter) clickCurl(user, messageTS, blockID, requestID string) string {
	return p.curl("/slack/interactions", p.clickForm(user, messageTS, blockID, requestID))
}
