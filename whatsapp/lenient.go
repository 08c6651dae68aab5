package whatsapp

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Helpers for answers whose shape the gateways do not document well
// (Wawp's lists and session info, RyzeAPI's lists and envelopes): they read
// a generic JSON tree and look for a value along several plausible paths,
// so that a wrapper or a renamed field degrades to "not found" instead of
// a decoding error.

// decodeAny parses body as JSON, or returns nil when it is not JSON.
func decodeAny(body []byte) any {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil
	}
	return v
}

// wrapperKeys are the fields gateways put a payload under.
var wrapperKeys = []string{"data", "result", "results", "response", "groups", "items", "list", "instances", "participants"}

// unwrapObject returns the payload object of an envelope such as
// {"success":true,"data":{...}}, or v itself.
func unwrapObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	for range 3 {
		inner, ok := m["data"].(map[string]any)
		if !ok {
			break
		}
		m = inner
	}
	return m
}

// unwrapList finds the list in v: v itself, a list under a wrapper key
// (searched a few levels deep), or, for an object keyed by ID as some
// WAHA engines answer, its values with the key filled in as "id".
func unwrapList(v any) ([]any, bool) {
	return unwrapListDepth(v, 0)
}

func unwrapListDepth(v any, depth int) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case map[string]any:
		if depth < 3 {
			for _, k := range wrapperKeys {
				if l, ok := unwrapListDepth(x[k], depth+1); ok {
					return l, true
				}
			}
		}
		if depth <= 1 && len(x) > 0 {
			for k, e := range x {
				if _, ok := e.(map[string]any); !ok || !strings.Contains(k, "@") {
					return nil, false
				}
			}
			l := make([]any, 0, len(x))
			for k, e := range x {
				o := e.(map[string]any)
				if _, has := o["id"]; !has {
					o["id"] = k
				}
				l = append(l, o)
			}
			return l, true
		}
	}
	return nil, false
}

// str returns the first non-empty string found along the dotted paths. An
// ID given as an object ({"_serialized": "..."} in whatsapp-web.js, or
// {"user","server"}) is flattened to its string form.
func str(v any, paths ...string) string {
	for _, p := range paths {
		if s := flatID(at(v, p)); s != "" {
			return s
		}
	}
	return ""
}

func flatID(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any:
		if s, ok := x["_serialized"].(string); ok && s != "" {
			return s
		}
		user, _ := x["user"].(string)
		server, _ := x["server"].(string)
		if user != "" && server != "" {
			return user + "@" + server
		}
	}
	return ""
}

// truthy reads a flag along the dotted paths: true, "true" or 1.
func truthy(v any, paths ...string) bool {
	for _, p := range paths {
		switch x := at(v, p).(type) {
		case bool:
			if x {
				return true
			}
		case string:
			if strings.EqualFold(x, "true") {
				return true
			}
		case float64:
			if x == 1 {
				return true
			}
		}
	}
	return false
}

// number reads a non-negative count along the dotted paths.
func number(v any, paths ...string) int {
	for _, p := range paths {
		switch x := at(v, p).(type) {
		case float64:
			if x > 0 && x < math.MaxInt32 {
				return int(x)
			}
		case string:
			if n, err := strconv.Atoi(x); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}

func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// participant reads one group member in the shapes the gateways use:
// {id|jid, isAdmin, isSuperAdmin}, WAHA's {id, admin: "admin"|"superadmin"}
// and {id, role: "admin"|"superadmin"|"participant"}.
func participant(v any) (Participant, bool) {
	p := Participant{JID: str(v, "id", "jid", "participant", "phoneNumber", "lid")}
	if p.JID == "" {
		return p, false
	}
	role := strings.ToLower(str(v, "admin", "role", "rank"))
	p.IsSuperAdmin = truthy(v, "isSuperAdmin", "superAdmin", "isCreator") || role == "superadmin" || role == "creator" || role == "owner"
	p.IsAdmin = p.IsSuperAdmin || truthy(v, "isAdmin") || role == "admin"
	return p, true
}

// historyList finds the list of messages in a chat-history answer: a bare
// array (Green API, WAHA), or one under "messages" (RyzeAPI) or another
// wrapper key, at the top or inside a "data" envelope.
func historyList(v any) ([]any, bool) {
	for _, p := range []string{"messages", "data.messages", "result.messages", "data.data"} {
		if l, ok := at(v, p).([]any); ok {
			return l, true
		}
	}
	return unwrapList(v)
}

// latestMessageTime is the newest readable time among a history's
// messages, and false when none has one. The gateways sort newest first,
// but the maximum does not depend on that.
func latestMessageTime(list []any) (time.Time, bool) {
	var latest time.Time
	for _, m := range list {
		if t, ok := messageTime(m); ok && t.After(latest) {
			latest = t
		}
	}
	return latest, !latest.IsZero()
}

// messageTime reads when one message was sent, in the forms the gateways
// use: unix seconds (Green API's and WAHA's timestamp), unix milliseconds,
// either as a string, or an RFC 3339 time (RyzeAPI's stored messages).
func messageTime(m any) (time.Time, bool) {
	for _, p := range []string{"timestamp", "messageTimestamp", "t", "_data.t", "time", "date", "createdAt", "created_at", "sentAt"} {
		switch x := at(m, p).(type) {
		case float64:
			if t, ok := unixTime(x); ok {
				return t, true
			}
		case string:
			x = strings.TrimSpace(x)
			if n, err := strconv.ParseFloat(x, 64); err == nil {
				if t, ok := unixTime(n); ok {
					return t, true
				}
				continue
			}
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil && t.Year() > 1970 {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// unixTime reads n as unix seconds, or as milliseconds when it is too
// large to be seconds (after the year 5000); zero, negative and absurd
// values are not times.
func unixTime(n float64) (time.Time, bool) {
	const (
		maxSeconds = 95617584000 // 5000-01-01
		maxMillis  = maxSeconds * 1000
	)
	switch {
	case math.IsNaN(n) || n <= 0 || n >= maxMillis:
		return time.Time{}, false
	case n >= maxSeconds:
		return time.UnixMilli(int64(n)).UTC(), true
	}
	return time.Unix(int64(n), 0).UTC(), true
}
