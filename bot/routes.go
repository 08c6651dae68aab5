package bot

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/slack-go/slack"
)

// Routes is waleave's whole HTTP surface (SPEC §3). Both Slack routes sit
// behind signature verification; in Socket Mode (secret empty and
// socketMode true) they are not served at all.
func Routes(log *slog.Logger, b *Bot, secret string, socketMode bool, ready func(context.Context) error, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	if !socketMode {
		verify := VerifySlack(log, secret, b.opts.Now)
		mux.Handle("POST /slack/commands", verify(handleCommand(log, b)))
		mux.Handle("POST /slack/interactions", verify(handleInteraction(log, b)))
		// The group picker's options: the same payload= body, answered
		// with the options.
		mux.Handle("POST /slack/options", verify(handleInteraction(log, b)))
		mux.Handle("POST /slack/events", verify(handleEvents(log, b)))
	}
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(log, ready))
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return mux
}

// handleCommand answers a slash command with the bot's ephemeral reply.
func handleCommand(log *slog.Logger, b *Bot) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc, err := slack.SlashCommandParse(r)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		// A signed command replayed within its window would make another
		// request and card: the second delivery is acknowledged, empty.
		// (Clicks need no such record: a decided request refuses a second
		// decision, a group choice is used once, and a confirmation is
		// bound to the card version it was made on.)
		msg := b.Command(b.CommandDelivery(r.Context(), "sig", r.Header.Get("X-Slack-Signature")), sc)
		if msg == nil {
			w.WriteHeader(http.StatusOK) // a replay: answered the first time
			return
		}
		writeJSON(log, w, commandReply(msg))
	})
}

// reply is the JSON Slack reads from a command's HTTP answer: only the
// fields it uses (slack.Msg would add empty metadata and a null blocks).
type reply struct {
	ResponseType string        `json:"response_type,omitempty"`
	Text         string        `json:"text"`
	Blocks       []slack.Block `json:"blocks,omitempty"`
}

func commandReply(m *slack.Msg) reply {
	if m == nil {
		return reply{}
	}
	return reply{ResponseType: m.ResponseType, Text: m.Text, Blocks: m.Blocks.BlockSet}
}

// handleInteraction acknowledges a button click once its effect is
// durable (the clicker hears about refusals afterwards), and answers the
// group picker's options and the request form's submission with a body.
func handleInteraction(log *slog.Logger, b *Bot) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ic, err := DecodeInteraction(body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if resp := b.Interact(r.Context(), ic); resp != nil {
			writeJSON(log, w, resp)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// eventEnvelope is the part of an Events API request the bot reads.
type eventEnvelope struct {
	Type         string `json:"type"`
	Challenge    string `json:"challenge"`
	TeamID       string `json:"team_id"`
	EnterpriseID string `json:"enterprise_id"`
	Event        struct {
		Type string `json:"type"`
		User string `json:"user"`
		Tab  string `json:"tab"`
	} `json:"event"`
}

// handleEvents answers the Events API: the url_verification challenge
// Slack sends when the request URL is set, and app_home_opened, whose
// Home tab is published after the ack. Other events are acknowledged and
// ignored, so Slack does not retry them.
func handleEvents(log *slog.Logger, b *Bot) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var ev eventEnvelope
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch ev.Type {
		case "url_verification":
			writeJSON(log, w, map[string]string{"challenge": ev.Challenge})
			return
		case "event_callback":
			if ev.Event.Type == "app_home_opened" && (ev.Event.Tab == "" || ev.Event.Tab == "home") {
				b.AppHomeOpened(ev.TeamID, ev.EnterpriseID, ev.Event.User)
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
}

// handleReadyz is 200 only when ready (the database answers) within a
// second.
func handleReadyz(log *slog.Logger, ready func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			log.Warn("not ready", "err", err)
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
}

func writeJSON(log *slog.Logger, w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Warn("write response", "err", err)
	}
}

// readBody reads a (verified, already size-capped) request body.
func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
}
