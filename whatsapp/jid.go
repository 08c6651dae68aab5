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
	if !strings.Contains(s, "chat.whatsapp.com") {
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
