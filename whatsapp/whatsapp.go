// Package whatsapp talks to the WhatsApp API gateways waleave supports
// (Green API, Wawp and RyzeAPI) behind one Gateway interface, and classifies
// every failure once, into the typed errors in errors.go, so that callers can
// decide what to retry and what to tell a person without parsing strings.
package whatsapp

import (
	"context"
	"time"
)

// Gateway is what waleave needs from a WhatsApp gateway instance. Every
// method returns an *Error (test it with errors.Is against the Err* kinds)
// for any failure the gateway reports, and never an error whose text holds
// the instance's token.
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
}

// LeaveResult is what a successful leave reports.
type LeaveResult struct {
	// WasAdmin is true when the gateway said the instance was an admin of
	// the group it left (Green API answers {"removeAdmin": true}).
	WasAdmin bool
}

// GroupSummary is one entry of the instance's group list.
type GroupSummary struct {
	JID     string
	Subject string
}

// Participant is one member of a group.
type Participant struct {
	JID          string
	IsAdmin      bool
	IsSuperAdmin bool
}

// Group is what a gateway tells about one group.
type Group struct {
	JID          string
	Subject      string
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
}

// Providers lists the accepted values of WA_PROVIDER.
var Providers = []string{"greenapi", "wawp", "ryzeapi"}

// DefaultBaseURL returns a provider's public base URL, or "" for an unknown
// provider.
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
