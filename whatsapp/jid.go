package whatsapp

import (
	"net/url"
	"regexp"
	"strings"
)

// groupJIDPattern accepts both group JID forms: the current
// "120363406289005073@g.us" and the older "11001234567-1587570015@g.us".
var groupJIDPattern = regexp.MustCompile(`^[0-9]{5,24}(-[0-9]{5,14})?@g\.us$`)

// inviteCodePattern is WhatsApp's invite code alphabet and length range.
var inviteCodePattern = regexp.MustCompile(`^[A-Za-z0-9]{10,32}$`)

// IsGroupJID reports whether s is a well-formed group JID.
func IsGroupJID(s string) bool {
	return groupJIDPattern.MatchString(s)
}

// InviteCode returns the invite code in s, which is either a bare code or a
// link of the form https://chat.whatsapp.com/CODE (http, a trailing slash,
// "invite/" before the code and a query string are tolerated). ok is false
// when s is neither.
func InviteCode(s string) (code string, ok bool) {
	if inviteCodePattern.MatchString(s) {
		return s, true
	}
	// Host names are case-insensitive, and people paste links as they
	// find them.
	if !strings.Contains(strings.ToLower(s), "chat.whatsapp.com") {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || !strings.EqualFold(u.Host, "chat.whatsapp.com") {
		return "", false
	}
	p := strings.Trim(u.Path, "/")
	p = strings.TrimPrefix(p, "invite/")
	if !inviteCodePattern.MatchString(p) {
		return "", false
	}
	return p, true
}

// InviteLink returns the canonical link for an invite code.
func InviteLink(code string) string {
	return "https://chat.whatsapp.com/" + code
}

// userJIDPattern accepts the JIDs of people: the phone-number forms
// "79001234567@c.us" (Green API, Wawp) and "…@s.whatsapp.net" (whatsmeow,
// RyzeAPI), and WhatsApp's hidden-number "…@lid".
var userJIDPattern = regexp.MustCompile(`^[0-9]{5,20}@(c\.us|s\.whatsapp\.net)$|^[0-9]{5,24}@lid$`)

// isUserJID reports whether s is a well-formed JID of a person.
func isUserJID(s string) bool {
	return userJIDPattern.MatchString(s)
}

// asCUs rewrites a phone-number JID to the @c.us form that Green API and
// Wawp (whatsapp-web.js) expect; other JIDs are returned unchanged.
func asCUs(jid string) string {
	if user, ok := strings.CutSuffix(jid, "@s.whatsapp.net"); ok {
		return user + "@c.us"
	}
	return jid
}
