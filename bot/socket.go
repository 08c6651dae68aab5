package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// SocketOptions tune the Socket Mode transport. Zero values mean the
// defaults.
type SocketOptions struct {
	// Silence is how long a connection may go without any sign of life (an
	// envelope, a connection event or a WebSocket ping from Slack) before
	// the watchdog replaces it. Slack pings well inside 30 seconds, so a
	// silent connection is a half-open one that would otherwise swallow
	// commands. Default 2m.
	Silence time.Duration
	// MinBackoff and MaxBackoff bound the wait before a new connection
	// after one failed (a refused apps.connections.open, a dial error, a
	// revoked token, the watchdog, a connection shorter than StableAfter);
	// the wait doubles per failure and is back to MinBackoff after a
	// connection Slack greeted has lasted StableAfter. Defaults 1s and 30s.
	MinBackoff, MaxBackoff time.Duration
	// HandlerTimeout bounds one command or click before its ack; default
	// 2.5s, which leaves room inside Slack's three seconds for the ack to
	// travel back.
	HandlerTimeout time.Duration
	// StableAfter is how long a connection must have lasted for the
	// backoff to start again from MinBackoff, and for slack-go to open
	// the next one at once when Slack closes it (a routine refresh).
	// Connections that end sooner (Slack keeps asking to reconnect, or
	// closes right after hello) go through the supervisor's growing
	// backoff instead. Default 30s.
	StableAfter time.Duration
}

func (o *SocketOptions) setDefaults() {
	if o.Silence <= 0 {
		o.Silence = 2 * time.Minute
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = 2500 * time.Millisecond
	}
	if o.StableAfter <= 0 {
		o.StableAfter = 30 * time.Second
	}
}

// socketCore is what the transport needs from the bot: the same two
// methods the HTTP routes call, so both transports share one core.
type socketCore interface {
	Command(context.Context, slack.SlashCommand) *slack.Msg
	Interaction(context.Context, slack.InteractionCallback)
	Interact(context.Context, slack.InteractionCallback) any
	AppHomeOpened(team, enterprise, user string)
}

// Socket is the Socket Mode transport. It keeps a WebSocket to Slack open
// with slack-go's socketmode client and hands slash commands and button
// clicks to Bot.Command and Bot.Interaction, acknowledging each envelope
// with the payload the HTTP route would have answered with.
//
// slack-go already reconnects when Slack asks (a disconnect envelope) or
// the socket drops. Socket adds what it leaves to its users: a supervisor
// that starts a fresh client with capped backoff when slack-go gives up
// (it returns for good on invalid_auth, for instance) or cannot connect,
// and a watchdog for connections that stay open but go quiet.
type Socket struct {
	log        *slog.Logger
	api        *slack.Client
	core       socketCore
	reconnects prometheus.Counter
	opts       SocketOptions
	// first reports whether an envelope is delivered for the first time
	// (Bot.FirstDelivery), and command names a command's delivery in the
	// context it is handled in (Bot.CommandDelivery); nil handles every
	// delivery.
	first   func(ctx context.Context, kind, id string) bool
	command func(ctx context.Context, kind, id string) context.Context

	// lastSeen is when the connection last showed life (unix nanoseconds);
	// the watchdog reads it, network reads and events write it.
	lastSeen atomic.Int64
	// mu guards state: nil when connected and greeted by Slack, otherwise
	// why not (what Ready reports).
	mu    sync.Mutex
	state error
	// everConnected and lastFailure are only touched by Run's goroutine.
	// Connections after the first are counted as reconnects; the last
	// failure since Slack's last hello is part of what Ready reports while
	// connecting again, so /readyz's log says why it is taking long.
	everConnected bool
	lastFailure   error
	// inflight tracks handlers between an envelope and its ack, so Run
	// returns only when none is left.
	inflight sync.WaitGroup
}

// NewSocket builds the Socket Mode transport for b. api must carry the
// app-level token (slack.OptionAppLevelToken): slack-go sends it to
// apps.connections.open, and uses the bot token for everything else.
func NewSocket(log *slog.Logger, b *Bot, api *slack.Client, opts SocketOptions) *Socket {
	s := newSocket(log, b, api, b.metrics.reconnects, opts)
	s.first, s.command = b.FirstDelivery, b.CommandDelivery
	return s
}

// repeated reports whether the envelope was handled before (Slack sends
// an envelope again when it thinks the ack was lost): it is then acked
// without being handled twice, which would make a second request.
func (s *Socket) repeated(ctx context.Context, req *socketmode.Request) bool {
	return s.first != nil && !s.first(ctx, "env", req.EnvelopeID)
}

func newSocket(log *slog.Logger, core socketCore, api *slack.Client, reconnects prometheus.Counter, opts SocketOptions) *Socket {
	opts.setDefaults()
	return &Socket{
		log: log.With("component", "socket"), api: api, core: core, reconnects: reconnects, opts: opts,
		state: errors.New("socket mode: not connected yet"),
	}
}

// Ready reports whether Slack can reach the bot: nil while a connection is
// up and Slack has said hello on it, otherwise why not. It is shaped like
// a database ping so /readyz can combine the two.
func (s *Socket) Ready(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *Socket) setState(err error) {
	s.mu.Lock()
	s.state = err
	s.mu.Unlock()
}

// Run connects and serves until ctx ends, reconnecting for as long as it
// takes. It returns once the connection is closed and every envelope
// received has been handled and acknowledged (or given up on).
func (s *Socket) Run(ctx context.Context) {
	defer s.inflight.Wait()
	backoff := s.opts.MinBackoff
	for {
		started := time.Now()
		greeted, err := s.session(ctx)
		if ctx.Err() != nil {
			s.setState(errors.New("socket mode: shut down"))
			return
		}
		if greeted && time.Since(started) >= s.opts.StableAfter {
			backoff = s.opts.MinBackoff
		}
		wait := backoff
		// slack-go surfaces Slack's Retry-After on a rate-limited
		// apps.connections.open; waiting less would only be refused again.
		if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok && rl.RetryAfter > wait {
			wait = rl.RetryAfter
		}
		backoff = min(2*backoff, s.opts.MaxBackoff)
		s.lastFailure = err
		s.setState(fmt.Errorf("socket mode: disconnected: %w", err))
		s.log.Warn("socket mode connection lost; reconnecting", "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.setState(errors.New("socket mode: shut down"))
			return
		case <-t.C:
		}
	}
}

// maxEnvelopeBytes caps one Socket Mode message. slack-go reads each
// whole, without limit unless given one: a 64 MiB envelope was read into
// memory. Envelopes carry the same payloads as the HTTP routes (a few
// kilobytes), and SPEC refuses bodies over 1 MiB; one connection to Slack
// needs no tighter cap than that (the HTTP routes' is tighter because
// anyone can open many connections). A larger message closes the
// connection and the transport connects again.
const maxEnvelopeBytes = 1 << 20

// ackGrace is how long a shutdown waits, after the last handler queued
// its ack, for slack-go's writer to put it on the wire.
const ackGrace = 100 * time.Millisecond

// session runs one slack-go client until it gives up, cannot connect, goes
// silent or ctx ends. greeted reports whether Slack said hello on it.
func (s *Socket) session(ctx context.Context) (greeted bool, err error) {
	// Like an HTTP server's graceful shutdown, the end of ctx stops new
	// envelopes but lets those in flight finish and be acked on this
	// connection, so the client runs on its own context, cancelled last.
	// Handlers are bounded by HandlerTimeout, so this wait is too.
	base := context.WithoutCancel(ctx)
	runCtx, cancel := context.WithCancel(base)
	defer cancel()
	var dialed conns
	client := socketmode.New(s.api,
		socketmode.OptionDialer(s.dialer(&dialed)),
		socketmode.OptionReadLimit(maxEnvelopeBytes),
		socketmode.OptionLog(slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)),
	)
	done := make(chan error, 1)
	go func() { done <- client.RunContext(runCtx) }()

	// finish stops the client and waits for it, still draining Events:
	// slack-go blocks on a full channel until its context ends. The bot is
	// not ready from here on. Closing what was dialed ends a WebSocket
	// handshake in progress: gorilla/websocket stops one only at its
	// deadline (45 s), not when the context ends, and that wait held
	// shutdown and kept /readyz answering "ready" for a dead connection.
	finish := func(err error) (bool, error) {
		s.setState(fmt.Errorf("socket mode: disconnected: %w", err))
		cancel()
		dialed.closeLast()
		for {
			select {
			case <-client.Events:
			case <-done:
				return greeted, err
			}
		}
	}

	s.touch()
	check := time.NewTicker(max(s.opts.Silence/4, 10*time.Millisecond))
	defer check.Stop()
	shutdown := ctx.Done()
	var idle chan struct{}
	// connectedAt is when slack-go last began to connect in this session.
	var connectedAt time.Time
	for {
		select {
		case <-shutdown:
			// No Add can race this Wait: envelopes are ignored from now on.
			shutdown, idle = nil, make(chan struct{})
			go func() { s.inflight.Wait(); close(idle) }()
		case <-idle:
			time.Sleep(ackGrace)
			return finish(ctx.Err())
		case err := <-done:
			if err == nil {
				err = errors.New("socket mode client stopped")
			}
			return greeted, err
		case <-check.C:
			if quiet := time.Since(time.Unix(0, s.lastSeen.Load())); quiet > s.opts.Silence {
				return finish(fmt.Errorf("no sign of life from Slack for %s", quiet.Round(time.Millisecond)))
			}
		case ev := <-client.Events:
			s.touch()
			if idle != nil {
				// Shutting down: Slack tells the user the app did not
				// answer, rather than the bot half-handling a command.
				continue
			}
			switch ev.Type {
			case socketmode.EventTypeConnecting:
				// slack-go reconnects at once, without backoff, whenever
				// Slack closes the connection or asks for a new one. That
				// is right for a refresh after hours, but Slack closing
				// every connection at once made thousands of attempts a
				// minute: a connection that did not last goes back to the
				// supervisor, whose backoff grows.
				s.setState(errors.New("socket mode: connecting"))
				if !connectedAt.IsZero() && time.Since(connectedAt) < s.opts.StableAfter {
					return finish(fmt.Errorf("Slack closed the connection after %s", time.Since(connectedAt).Round(time.Millisecond)))
				}
				connectedAt = time.Now()
				if s.lastFailure != nil {
					s.setState(fmt.Errorf("socket mode: connecting; the last attempt failed: %w", s.lastFailure))
				}
			case socketmode.EventTypeConnected:
				if s.everConnected {
					s.reconnects.Inc()
				}
				s.everConnected = true
				s.setState(errors.New("socket mode: connected, waiting for hello"))
			case socketmode.EventTypeHello:
				greeted = true
				s.lastFailure = nil
				s.setState(nil)
				n := 0
				if ev.Request != nil {
					n = ev.Request.NumConnections
				}
				s.log.Info("socket mode connected", "connections", n)
			case socketmode.EventTypeConnectionError:
				// slack-go would retry on its own, with a backoff that
				// grows to five minutes; the supervisor's is capped lower.
				cause := errors.New("connection failed")
				if ce, ok := ev.Data.(*slack.ConnectionErrorEvent); ok && ce.ErrorObj != nil {
					cause = ce.ErrorObj
				}
				return finish(cause)
			case socketmode.EventTypeInvalidAuth:
				s.setState(errors.New("socket mode: the app-level token was refused"))
			case socketmode.EventTypeSlashCommand:
				sc, ok := ev.Data.(slack.SlashCommand)
				if !ok || ev.Request == nil {
					s.log.Warn("socket mode: unreadable slash command envelope")
					continue
				}
				req := ev.Request
				s.serve(base, client, req, func(ctx context.Context) any {
					if s.command != nil {
						// A redelivered command is stopped where its
						// request is recorded, and gets no answer.
						ctx = s.command(ctx, "env", req.EnvelopeID)
					}
					// The same body POST /slack/commands answers with.
					if msg := s.core.Command(ctx, sc); msg != nil {
						return commandReply(msg)
					}
					return nil
				})
			case socketmode.EventTypeInteractive:
				ic, ok := ev.Data.(slack.InteractionCallback)
				if !ok || ev.Request == nil {
					s.log.Warn("socket mode: unreadable interactive envelope")
					continue
				}
				req := ev.Request
				s.serve(base, client, req, func(ctx context.Context) any {
					if s.repeated(ctx, req) {
						return nil
					}
					// The same body POST /slack/interactions and
					// /slack/options answer with.
					return s.core.Interact(ctx, ic)
				})
			case socketmode.EventTypeEventsAPI:
				// app_home_opened publishes the Home tab after the ack;
				// any other event is acked so Slack does not retry it.
				if e, ok := ev.Data.(slackevents.EventsAPIEvent); ok {
					if h, ok := e.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); ok && (h.Tab == "" || h.Tab == "home") {
						s.core.AppHomeOpened(e.TeamID, e.EnterpriseID, h.User)
					}
				}
				if ev.Request != nil {
					s.serve(base, client, ev.Request, func(context.Context) any { return nil })
				}
			case socketmode.EventTypeErrorBadMessage:
				s.log.Warn("socket mode: "+string(ev.Type), "err", eventErr(ev))
				// slack-go could not read the envelope, so it reached no
				// handler; a bare ack stops Slack from sending it again
				// and the user from waiting for the three seconds to end.
				if bad, ok := ev.Data.(*socketmode.ErrorBadMessage); ok {
					var env struct {
						EnvelopeID string `json:"envelope_id"`
					}
					if json.Unmarshal(bad.Message, &env) == nil && env.EnvelopeID != "" {
						s.serve(base, client, &socketmode.Request{Type: "unreadable", EnvelopeID: env.EnvelopeID}, func(context.Context) any { return nil })
					}
				}
			case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
				s.log.Warn("socket mode: "+string(ev.Type), "err", eventErr(ev))
			}
		}
	}
}

// serve handles one envelope off the event loop, so a slow handler
// neither delays other envelopes nor stops Events from being drained, and
// acknowledges it with handle's payload (nil for none).
func (s *Socket) serve(base context.Context, client *socketmode.Client, req *socketmode.Request, handle func(context.Context) any) {
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		hctx, cancel := context.WithTimeout(base, s.opts.HandlerTimeout)
		payload := s.call(hctx, req, handle)
		cancel()
		// AckCtx only queues the ack for the connection's writer; the
		// bound covers a connection that died meanwhile.
		actx, cancel := context.WithTimeout(base, time.Second)
		defer cancel()
		err := client.AckCtx(actx, req.EnvelopeID, payload)
		if err != nil && payload != nil && actx.Err() == nil {
			// Slack drops acks of 20 KB or more, and slack-go refuses to
			// send them; a bare ack at least spares the user a timeout.
			s.log.Warn("socket mode: ack payload refused; acknowledging without it", "type", req.Type, "err", err)
			err = client.AckCtx(actx, req.EnvelopeID, nil)
		}
		if err != nil {
			s.log.Warn("socket mode: ack failed", "type", req.Type, "err", err)
		}
	}()
}

// call runs handle, turning a panic into a logged error and a bare ack, as
// net/http does for a panicking HTTP handler: one bad envelope must not
// end the process, and Slack must not wait for an ack that never comes.
func (s *Socket) call(ctx context.Context, req *socketmode.Request, handle func(context.Context) any) (payload any) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("socket mode: handler panicked; acknowledging without a payload", "type", req.Type, "panic", p, "stack", string(debug.Stack()))
			payload = nil
		}
	}()
	return handle(ctx)
}

// touch records a sign of life.
func (s *Socket) touch() { s.lastSeen.Store(time.Now().UnixNano()) }

// dialer is slack-go's default WebSocket dialer with one addition: every
// byte read from the network counts as a sign of life. slack-go answers
// Slack's pings itself and does not report them, so this is how the
// watchdog sees a connection that is idle but alive.
func (s *Socket) dialer(dialed *conns) *websocket.Dialer {
	nd := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: 45 * time.Second,
		// Larger than Slack's 20 KB ack limit, so every ack is one frame:
		// Slack does not reassemble continuation frames (slack-go's note).
		WriteBufferSize: 32 * 1024,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			dialed.add(c)
			return &liveConn{Conn: c, touch: s.touch}, nil
		},
	}
}

// conns keeps the network connection a session dialed last, so that
// ending the session can close it whatever state its handshake is in.
// slack-go runs one connection at a time and closes the one before it
// reconnects, so the last is the only one that can still be open.
type conns struct {
	mu   sync.Mutex
	last net.Conn
}

func (d *conns) add(c net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last = c
}

func (d *conns) closeLast() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last != nil {
		_ = d.last.Close()
	}
}

// liveConn is a net.Conn that reports each successful read.
type liveConn struct {
	net.Conn
	touch func()
}

// Read counts every byte from the network as a sign of life.
func (c *liveConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.touch()
	}
	return n, err
}

// eventErr is the error an error event carries.
func eventErr(ev socketmode.Event) error {
	switch d := ev.Data.(type) {
	case *slack.IncomingEventError:
		return d.ErrorObj
	case *socketmode.ErrorBadMessage:
		return d.Cause
	case *socketmode.ErrorWriteFailed:
		return d.Cause
	case error:
		return d
	}
	return fmt.Errorf("%v", ev.Data)
}
