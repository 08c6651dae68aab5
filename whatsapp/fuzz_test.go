package whatsapp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// cannedTransport answers every request with the same response, so fuzz
// inputs reach the decoders without a network.
type cannedTransport struct {
	status int
	header http.Header
	body   []byte
}

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: c.status,
		Header:     c.header.Clone(),
		Body:       io.NopCloser(bytes.NewReader(c.body)),
		Request:    r,
	}, nil
}

// addAnswerSeeds gives every answer fuzzer the same starting points: each
// provider's documented answers and the failure shapes the tests know.
func addAnswerSeeds(f *testing.F) {
	for _, s := range []struct {
		status int
		header string
		body   string
	}{
		{200, "", `{"leaveGroup": true}`},
		{200, "", `{"removeAdmin": true}`},
		{200, "", `{"code": 401, "description": "Unauthorized"}`},
		{466, "", greenQuotaBody},
		{200, "", `[{"id": "120363406289005073@g.us", "name": "Ops", "type": "group"}]`},
		{200, "", `{"groupId": "120363406289005073@g.us", "participants": [{"id": "1@c.us", "isAdmin": true}]}`},
		{200, "", `{"ok": true}`},
		{200, "", `{"_data": {"id": {"_serialized": "true_x_y"}}}`},
		{200, "", `{"120363406289005073@g.us": {"subject": "Ops"}}`},
		{422, "", `{"statusCode": 422, "message": "Session status is not as expected", "error": "Unprocessable Entity"}`},
		{200, "", `{"success": true, "data": {"name": "Ops", "jid": "120363406289005073@g.us", "participants": [{"jid": "1@s.whatsapp.net", "isSuperAdmin": true}]}}`},
		{200, "", `{"success": true, "data": [{"name": "` + testInstance + `", "connection": {"state": "connected"}}]}`},
		{200, "", `{"success": true, "data": [{"success": false, "error": "only super admins"}]}`},
		{429, "1772366445", `{"success": false, "error": {"message": "Rate limit exceeded. Try again later."}}`},
		{429, "Sun, 01 Mar 2026 12:00:30 GMT", ``},
		{500, "", `<html>error at /waInstance1/leaveGroup/` + testToken + `</html>`},
		{200, "", `{"leaveGroup": tr`},
		{302, "", ``},
	} {
		f.Add(s.status, s.header, []byte(s.body))
	}
}

// fuzzAnswer calls every method of provider against one arbitrary answer
// and checks what must hold whatever the gateway says: no panic, success
// only for a 2xx answer, and otherwise a classified *Error whose text is
// short and free of the token.
func fuzzAnswer(t *testing.T, provider string, status int, header string, body []byte) {
	status = 100 + (status%500+500)%500
	h := http.Header{"Retry-After": {header}, "X-Ratelimit-Reset": {header}}
	hc := &http.Client{Transport: cannedTransport{status: status, header: h, body: body}}
	gw, err := New(provider, Config{BaseURL: "https://gw.example", Instance: testInstance, Token: testToken}, hc)
	if err != nil {
		t.Fatal(err)
	}
	unlimited(gw)
	ctx := context.Background()

	check := func(method string, err error) {
		t.Helper()
		if err == nil {
			if status < 200 || status > 299 {
				t.Fatalf("%s succeeded on HTTP %d", method, status)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %T is not an *Error: %v", method, err, err)
		}
		known := false
		for _, k := range allKinds {
			known = known || e.Kind == k
		}
		if !known {
			t.Fatalf("%s: unknown kind %v", method, e.Kind)
		}
		text := err.Error()
		for _, form := range []string{testToken, url.PathEscape(testToken), url.QueryEscape(testToken)} {
			if strings.Contains(text, form) {
				t.Fatalf("%s: token in error text %q", method, text)
			}
		}
		if n := utf8.RuneCountInString(e.Message); n > maxMessage+1 {
			t.Fatalf("%s: message of %d characters", method, n)
		}
		if e.RetryAfter < 0 || e.RetryAfter > maxWait {
			t.Fatalf("%s: RetryAfter %v", method, e.RetryAfter)
		}
	}

	_, err = gw.Leave(ctx, testGroup)
	check("Leave", err)
	_, err = gw.SendText(ctx, testGroup, "bye")
	check("SendText", err)
	g, err := gw.Group(ctx, testGroup)
	check("Group", err)
	if err == nil && g.JID == "" {
		t.Fatal("Group succeeded without a JID")
	}
	if w, ok := gw.(*Wawp); ok {
		link, err := w.InviteLink(ctx, Group{JID: testGroup})
		check("InviteLink", err)
		if _, valid := InviteCode(link); err == nil && !valid {
			t.Fatalf("InviteLink returned %q", link)
		}
	}
	gs, err := gw.Groups(ctx)
	check("Groups", err)
	for _, s := range gs {
		if !IsGroupJID(s.JID) {
			t.Fatalf("Groups returned %q, not a group", s.JID)
		}
	}
	check("Promote", gw.Promote(ctx, testGroup, testUser))
	_, err = gw.State(ctx)
	check("State", err)
	last, err := gw.LastActivity(ctx, testGroup)
	check("LastActivity", err)
	if err == nil && !last.IsZero() && (last.Year() < 1970 || last.Year() > 5000) {
		t.Fatalf("LastActivity returned %v", last)
	}
}

func FuzzGreenAPIAnswer(f *testing.F) {
	addAnswerSeeds(f)
	f.Fuzz(func(t *testing.T, status int, header string, body []byte) {
		fuzzAnswer(t, "greenapi", status, header, body)
	})
}

func FuzzWawpAnswer(f *testing.F) {
	addAnswerSeeds(f)
	f.Fuzz(func(t *testing.T, status int, header string, body []byte) {
		fuzzAnswer(t, "wawp", status, header, body)
	})
}

func FuzzRyzeAPIAnswer(f *testing.F) {
	addAnswerSeeds(f)
	f.Fuzz(func(t *testing.T, status int, header string, body []byte) {
		fuzzAnswer(t, "ryzeapi", status, header, body)
	})
}

func FuzzIsGroupJID(f *testing.F) {
	for _, s := range []string{testGroup, testOldGroup, testUser, "120363406289005073@g.us\n", "-1@g.us", "1203634062890050731234567@g.us", "12345@g.us", "12345-@g.us", "١٢٣٤٥@g.us"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !IsGroupJID(s) {
			return
		}
		user, ok := strings.CutSuffix(s, "@g.us")
		if !ok {
			t.Fatalf("%q accepted without @g.us", s)
		}
		parts := strings.Split(user, "-")
		if len(parts) > 2 {
			t.Fatalf("%q has more than one '-'", s)
		}
		for i, p := range parts {
			longest := 24 // the group's own number; after '-', a creation time
			if i == 1 {
				longest = 14
			}
			if len(p) < 5 || len(p) > longest || strings.Trim(p, "0123456789") != "" {
				t.Fatalf("%q: part %q is not 5–%d ASCII digits", s, p, longest)
			}
		}
		if _, ok := InviteCode(s); ok {
			t.Fatalf("%q is both a JID and an invite code", s)
		}
		if isUserJID(s) {
			t.Fatalf("%q is both a group and a user JID", s)
		}
		// Safe in a URL path with only the '@' escaped.
		if got, want := escapeSegment(s), strings.Replace(s, "@", "%40", 1); got != want {
			t.Fatalf("escapeSegment(%q) = %q, want %q", s, got, want)
		}
	})
}

func FuzzInviteCode(f *testing.F) {
	for _, s := range []string{
		"AbCdEfGhIjKl", "https://chat.whatsapp.com/AbCdEfGhIjKl", "http://CHAT.whatsapp.com/invite/AbCdEfGhIjKl/?x=1",
		"https://chat.whatsapp.com.evil.example/AbCdEfGhIjKl", "https://chat.whatsapp.com/%41bCdEfGhIjKl", "short", testGroup,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := InviteCode(s)
		if !ok {
			if code != "" {
				t.Fatalf("InviteCode(%q) = %q with ok false", s, code)
			}
			return
		}
		if !inviteCodePattern.MatchString(code) {
			t.Fatalf("InviteCode(%q) = %q, not a code", s, code)
		}
		if s != code && !strings.Contains(strings.ToLower(s), "chat.whatsapp.com") {
			t.Fatalf("InviteCode(%q) = %q from something that is neither a code nor a link", s, code)
		}
		if got, ok := InviteCode(code); !ok || got != code {
			t.Fatalf("InviteCode(%q) = %q, %v; want the code back", code, got, ok)
		}
		if got, ok := InviteCode(InviteLink(code)); !ok || got != code {
			t.Fatalf("InviteCode(InviteLink(%q)) = %q, %v", code, got, ok)
		}
		if IsGroupJID(s) {
			t.Fatalf("%q is both a JID and an invite code", s)
		}
	})
}
