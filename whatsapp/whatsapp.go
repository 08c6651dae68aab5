// Package whatsapp talks to the WhatsApp API gateways waleave supports
// (Green API, Wawp and RyzeAPI) behind one Gateway interface, and classifies
// every failure once, into the typed errors in errors.go, so that callers can
// decide what to retry and what to tell a person without parsing strings.
//
// The clients never retry. Whether a failed leave or goodbye may be sent
// again depends on whether the first attempt may have reached WhatsApp
// (an *Error with Status 0 and ErrUnavailable: no answer arrived), and only
// the job layer, which records attempts durably, can decide that safely.
// The clients do throttle: each keeps below its gateway's documented rate
// for the instance, waiting (within the caller's deadline) for a slot, and
// bounds every call with the caller's deadline or a default timeout.
//
// Tokens never appear in errors: Green API's token is part of every URL,
// so URLs and gateway text are redacted before an *Error is built.
package whatsapp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// New returns the Gateway for provider ("greenapi", "wawp", "ryzeapi" or
// "dryrun"; see Providers), reached through hc (nil means a default
// client; hc is never modified). Build one per instance and process: the
// rate limits live in the returned value. The dry run ignores cfg and hc
// (NewDryRun also takes an observer).
func New(provider string, cfg Config, hc *http.Client) (Gateway, error) {
	switch provider {
	case DryRunProvider:
		return NewDryRun(nil), nil
	case "greenapi":
		g, err := NewGreenAPI(cfg, hc)
		if err != nil {
			return nil, err
		}
		return g, nil
	case "wawp":
		w, err := NewWawp(cfg, hc)
		if err != nil {
			return nil, err
		}
		return w, nil
	case "ryzeapi":
		y, err := NewRyzeAPI(cfg, hc)
		if err != nil {
			return nil, err
		}
		return y, nil
	}
	return nil, fmt.Errorf("whatsapp: unknown provider %q (want one of %s)", provider, strings.Join(Providers, ", "))
}

// Gateway is what waleave needs from a WhatsApp gateway instance. Every
// failure of every method is an *Error (test it with errors.Is against the
// Err* kinds), and no error text holds the instance's token. Malformed
// input (a bad JID, an empty or over-long text) is ErrInvalid with Status 0
// and nothing is sent; a call that gets no slot under the client's rate
// limit before its deadline is ErrRateLimited with Status 0, also unsent.
type Gateway interface {
	// Leave makes the instance leave the group with the given JID.
	Leave(ctx context.Context, groupJID string) (LeaveResult, error)
	// SendText posts text to a chat (a group JID for goodbyes) and returns
	// the gateway's message ID (empty when the gateway does not report one).
	SendText(ctx context.Context, chatID, text string) (string, error)
	// Group describes one group. ref is a group JID, or an invite code or
	// link where the gateway can resolve those (ErrInvalid where it cannot).
	Group(ctx context.Context, ref string) (Group, error)
	// Groups lists the groups the instance is in.
	Groups(ctx context.Context) ([]GroupSummary, error)
	// Promote makes participant (a user JID) an admin of the group.
	Promote(ctx context.Context, groupJID, participant string) error
	// State reports the instance's connection state.
	State(ctx context.Context) (State, error)
	// Me is the instance's own JID, how a caller finds the instance among
	// a group's participants; "" when the gateway does not say. Each
	// provider asks where it can: Wawp and RyzeAPI from their state
	// answer (State.Me), Green API from getSettings (its state answer
	// does not name the instance).
	Me(ctx context.Context) (string, error)
	// InviteLink is the invite link of the group g describes, as Group
	// returned it (or with only its JID set when that lookup failed): the
	// link g carries where the provider's group details include one
	// (Green API, RyzeAPI, the dry run), else one asked for by a call of
	// its own (Wawp). "" when there is none: only admins see it.
	InviteLink(ctx context.Context, g Group) (string, error)
	// LastActivity is when the group's last message (anyone's) was
	// sent, as far as the gateway can tell: a stale-group scan asks it
	// of every candidate group, at the gateway's rate for the call.
	//
	// A zero time with a nil error means the gateway cannot tell: it
	// answered, but its history of the group holds no message with a
	// readable time (Green API keeps only what arrived while its
	// journals were on; the other gateways only what their session
	// stored). Such a group is neither stale nor recent, and a caller
	// must not treat it as either. A failure is an *Error, as for the
	// other calls.
	LastActivity(ctx context.Context, groupJID string) (time.Time, error)
	// DryRun reports whether the gateway sends nothing to WhatsApp (the
	// dry run), so what is said about its work can say so.
	DryRun() bool
}

// Config is how to reach one gateway instance.
type Config struct {
	// BaseURL is the gateway's base URL without a trailing slash; empty
	// means the provider's default (DefaultBaseURL).
	BaseURL string
	// Instance is Green API's idInstance, Wawp's instance_id or RyzeAPI's
	// instance name.
	Instance string
	// Token is Green API's apiTokenInstance, Wawp's access_token or
	// RyzeAPI's instance token. It is a secret: never logged or printed.
	Token string
	// Rate overrides the provider's request rate per second for methods the
	// gateway documents no limit for (Wawp); zero means the default.
	Rate float64
	// Limiter, when set, keeps the gateway's rate limits across processes
	// (replicas sharing a database); nil keeps them in this process.
	Limiter Limiter
	// Number, when set, names the WhatsApp number at the start of the
	// Limiter's keys, so that one number's calls never spend another's
	// budget; empty keeps the keys a single-number bot has always used.
	Number string
}

// ConfigProblem is one thing wrong with a Config: the field (BaseURL,
// Instance or Token) and what is wrong with it. It never quotes the token.
type ConfigProblem struct {
	Field   string
	Problem string
}

// CheckConfig lists everything wrong with cfg for provider at once, so a
// caller can name its own settings for each; New refuses a Config with
// any problem.
func CheckConfig(provider string, cfg Config) []ConfigProblem {
	if provider == DryRunProvider {
		return nil // it reaches nothing, so it needs nothing
	}
	var problems []ConfigProblem
	bad := func(field, format string, args ...any) {
		problems = append(problems, ConfigProblem{field, fmt.Sprintf(format, args...)})
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL(provider)
	}
	u, err := url.Parse(base)
	switch {
	case err != nil:
		bad("BaseURL", "is not a URL")
	case (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		bad("BaseURL", "%q must be an absolute http(s) URL", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		bad("BaseURL", "%q must not have a query or fragment", u.Redacted())
	}
	switch {
	case strings.TrimSpace(cfg.Instance) == "":
		bad("Instance", "is required")
	case strings.IndexFunc(cfg.Instance, unicode.IsControl) >= 0:
		bad("Instance", "contains control characters")
	case provider == "greenapi" && strings.Trim(cfg.Instance, "0123456789") != "":
		bad("Instance", "must be a number (Green API's idInstance)")
	}
	switch {
	case cfg.Token == "":
		bad("Token", "is required")
	case strings.IndexFunc(cfg.Token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		// The token goes into headers and URLs, where such characters
		// would be rejected or mangled; say so here rather than per call.
		bad("Token", "contains spaces or control characters")
	}
	return problems
}

// Limiter spaces calls of one kind (key) to perSecond a second, in bursts
// of at most burst, across every process that shares it; store.Jobs
// implements it with a table. ReserveRate takes the next free slot and
// returns when it is (now, or later: slots are handed out back to back,
// each caller its own); it reserves nothing, and fails, when the slot
// would be after ctx's deadline.
type Limiter interface {
	ReserveRate(ctx context.Context, key string, perSecond float64, burst int) (time.Time, error)
}

// Pacer is implemented by the gateway clients that keep to a rate: Pace
// is how many calls a second of a Gateway method ("Leave", "SendText",
// "Group", "Groups") the client lets out, so a caller that makes many
// calls at once can keep its queue short. They also call the function
// WithSending puts in a call's context.
type Pacer interface {
	Pace(method string) float64
}

type sendingKey struct{}

// WithSending returns ctx carrying fn, which a Pacer calls when a call
// made with ctx is about to be written to the gateway: its rate slot has
// come and its connection is ready. Until then whoever shares the call's
// answer knows that it will reflect what happened before. fn may be
// called more than once (the transport may write a request again on a
// new connection) and must not block.
func WithSending(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, sendingKey{}, fn)
}

// Sending is the function WithSending put in ctx, or one that does
// nothing: what a Pacer calls, and a stand-in for one in tests.
func Sending(ctx context.Context) func() {
	if fn, ok := ctx.Value(sendingKey{}).(func()); ok {
		return fn
	}
	return func() {}
}

// LeaveResult is what a successful leave reports.
type LeaveResult struct {
	// WasAdmin is true when the gateway said the instance was an admin of
	// the group it left (Green API answers {"removeAdmin": true}).
	WasAdmin bool
}

// GroupSummary is one entry of the instance's group list.
type GroupSummary struct {
	// JID is the group's JID (…@g.us).
	JID string
	// Subject is the group's name; it may be empty.
	Subject string
}

// Participant is one member of a group.
type Participant struct {
	// JID is the member's JID, in the gateway's form (…@c.us,
	// …@s.whatsapp.net or …@lid).
	JID string
	// IsAdmin is true for admins, super-admins included.
	IsAdmin bool
	// IsSuperAdmin is true for the group's creator and super-admins.
	IsSuperAdmin bool
}

// Group is what a gateway tells about one group.
type Group struct {
	// JID is the group's JID (…@g.us).
	JID string
	// Subject is the group's name; empty where the gateway's group call
	// does not return it (Wawp).
	Subject string
	// Participants are the members with their admin flags.
	Participants []Participant
	// Size is the member count; it may be set when Participants is not.
	Size int
	// InviteLink is https://chat.whatsapp.com/CODE when the gateway gave one.
	InviteLink string
}

// State is an instance's connection state, normalised across gateways.
type State struct {
	// Connected is true when the instance can send and leave right now.
	Connected bool
	// Raw is the gateway's own word for the state (e.g. "authorized",
	// "notAuthorized", "WORKING", "connected"), for messages to operators.
	Raw string
	// Me is the instance's own JID where the state answer carries it
	// (RyzeAPI's connection.numberJid, Wawp's me.id); empty otherwise.
	// Green API's getStateInstance does not: its Gateway.Me asks separately.
	// It is how a caller finds the instance among a group's participants.
	Me string
}

// Providers lists the accepted values of WA_PROVIDER.
var Providers = []string{"greenapi", "wawp", "ryzeapi", DryRunProvider}

// DefaultBaseURL returns a provider's public base URL, or "" for an unknown
// provider and for the dry run, which has none.
func DefaultBaseURL(provider string) string {
	switch provider {
	case "greenapi":
		return "https://api.green-api.com"
	case "wawp":
		return "https://api.wawp.net"
	case "ryzeapi":
		return "https://ryzeapi.cloud"
	}
	return ""
}

// defaultTimeout bounds one gateway call when the caller's context has no
// earlier deadline, so no wait is unbounded.
const defaultTimeout = 20 * time.Second
