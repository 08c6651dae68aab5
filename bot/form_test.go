package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// seedDirectory stores n groups named "Group 00000"… with JIDs in order,
// plus the given ones.
func seedDirectory(t testing.TB, dir *store.Directory, n int, extra ...store.DirectoryEntry) {
	t.Helper()
	entries := make([]store.DirectoryEntry, 0, n+len(extra))
	for i := range n {
		entries = append(entries, store.DirectoryEntry{JID: fmt.Sprintf("1203634%011d@g.us", i), Subject: fmt.Sprintf("Group %05d", i)})
	}
	entries = append(entries, extra...)
	require.NoError(t, dir.ReplaceDirectory(context.Background(), entries, time.Now()))
}

// suggestion is a block_suggestion payload from the form opened in C1.
func suggestion(user, query string) url.Values {
	p, _ := json.Marshal(map[string]any{
		"type": "block_suggestion", "team": map[string]any{"id": "T1"}, "user": map[string]any{"id": user},
		"action_id": templates.ActionFormGroup, "block_id": templates.BlockGroup, "value": query,
		"view": map[string]any{"id": "V1", "callback_id": templates.CallbackRequest, "private_metadata": `{"c":"C1"}`},
	})
	return url.Values{"payload": {string(p)}}
}

func optionsOf(t testing.TB, body string) []string {
	var got struct {
		Options []struct {
			Text  struct{ Text string } `json:"text"`
			Value string                `json:"value"`
		} `json:"options"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	out := make([]string, len(got.Options))
	for i, o := range got.Options {
		out[i] = o.Text.Text + "=" + o.Value
	}
	return out
}

func TestOptionsNamesThenJIDs(t *testing.T) {
	tb := newTestBot(t, Options{})
	seedDirectory(t, tb.db.Directory(), 0,
		store.DirectoryEntry{JID: "120363400000000777@g.us", Subject: "Alpha"},
		store.DirectoryEntry{JID: "120363400000000001@g.us", Subject: "Team 777"},
		store.DirectoryEntry{JID: "120363400000000002@g.us", Subject: "beta 777 crew"},
		store.DirectoryEntry{JID: "120363400000000003@g.us", Subject: "Gamma"})
	tb.opts.Now = time.Now // signedRequest signs with the wall clock
	h := Routes(slog.New(slog.NewTextHandler(io.Discard, nil)), tb.Bot, benchSecret, false, tb.db.Ping, prometheus.NewRegistry())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signedRequest("/slack/options", suggestion("U0REQ1", "777")))
	require.Equal(t, 200, w.Code, w.Body.String())
	require.Equal(t, []string{"beta 777 crew=120363400000000002@g.us", "Team 777=120363400000000001@g.us", "Alpha=120363400000000777@g.us"}, optionsOf(t, w.Body.String()))

	w = httptest.NewRecorder()
	h.ServeHTTP(w, signedRequest("/slack/options", suggestion("U0BAD9", "777")))
	require.Equal(t, 200, w.Code)
	require.Empty(t, optionsOf(t, w.Body.String()), "someone who may not request sees no group names")

	w = httptest.NewRecorder()
	req := signedRequest("/slack/options", suggestion("U0REQ1", "777"))
	req.Header.Set("X-Slack-Signature", "v0=00")
	h.ServeHTTP(w, req)
	require.Equal(t, 401, w.Code, "the options route verifies signatures")
}

func TestOptionsAtMost100(t *testing.T) {
	tb := newTestBot(t, Options{})
	seedDirectory(t, tb.db.Directory(), 500)
	var ic slack.InteractionCallback
	ic.Type, ic.Team.ID, ic.User.ID = slack.InteractionTypeBlockSuggestion, "T1", "U0REQ1"
	ic.View.PrivateMetadata = `{"c":"C1"}`
	got := tb.Interact(context.Background(), ic).(templates.Options)
	require.Len(t, got.Options, 100)
	require.Equal(t, "120363400000000000@g.us", got.Options[0].Value, "an empty query lists groups by name")
}

// BenchmarkOptions is the group picker's answer over a directory of
// 10,000 groups, through the HTTP route (verification included). Slack
// waits three seconds for it; it must stay far below 100 ms.
func BenchmarkOptions(b *testing.B) {
	tb, h := benchBot(b)
	seedDirectory(b, tb.db.Directory(), 10000)
	for _, q := range []string{"", "group 09", "zzz", "00000000777"} {
		b.Run(fmt.Sprintf("q=%q", q), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, signedRequest("/slack/options", suggestion("U0BENCH1", q)))
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}

// homeClickOn is a click on a Home tab's button for r at version v.
func homeClickOn(user, action string, r *store.Request, v int) slack.InteractionCallback {
	var ic slack.InteractionCallback
	ic.Type = slack.InteractionTypeBlockActions
	ic.Team.ID, ic.User.ID = "T1", user
	ic.Container.Type, ic.Container.ViewID = "view", "V1"
	ic.View.ID, ic.View.Type = "V1", slack.VTHomeTab
	ic.ActionCallback.BlockActions = []*slack.BlockAction{{ActionID: action, Value: r.ID, BlockID: templates.HomeBlockID(r.ID, v)}}
	return ic
}

// TestHomeClickAuthorized: a Home tab's button confirms only at the
// request's current card version, for someone allowed in the request's
// own channel, and only from a Home tab.
func TestHomeClickAuthorized(t *testing.T) {
	tb := newTestBot(t, Options{AllowedChannels: []string{"C1"}, AllowedUsers: []string{"U0REQ1"}})
	ctx := context.Background()
	r := tb.pending(t, nil)

	tb.Interact(ctx, homeClickOn("U0CNF2", templates.ActionConfirm, r, r.CardVersion+1))
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, r.State, got.State, "a Home tab drawn at another version confirms nothing")

	notHome := homeClickOn("U0CNF2", templates.ActionConfirm, r, r.CardVersion)
	notHome.View.Type = slack.VTModal
	tb.Interact(ctx, notHome)
	got, _ = tb.db.Requests().Request(ctx, r.ID)
	require.Equal(t, r.State, got.State, "a Home block ID from elsewhere than a Home tab confirms nothing")

	other := tb.pending(t, func(q *store.Request) { q.ChannelID = "C9" })
	tb.Interact(ctx, homeClickOn("U0CNF2", templates.ActionConfirm, other, other.CardVersion))
	got, _ = tb.db.Requests().Request(ctx, other.ID)
	require.Equal(t, other.State, got.State, "allowed in C1 does not confirm a request of C9 from Home")

	tb.Interact(ctx, homeClickOn("U0CNF2", templates.ActionConfirm, r, r.CardVersion))
	got, _ = tb.db.Requests().Request(ctx, r.ID)
	require.Equal(t, "confirmed", string(got.State), "the current version, by someone allowed in the request's channel")
	require.Equal(t, "U0CNF2", got.ConfirmedBy)
}

// formPick is the form's block_actions when a group is picked in it.
func formPick(user, jid string) slack.InteractionCallback {
	var ic slack.InteractionCallback
	ic.Type = slack.InteractionTypeBlockActions
	ic.Team.ID, ic.User.ID = "T1", user
	ic.Container.Type = "view"
	ic.View.ID, ic.View.Hash, ic.View.CallbackID, ic.View.PrivateMetadata = "V1", "h1", templates.CallbackRequest, `{"c":"C1"}`
	a := &slack.BlockAction{ActionID: templates.ActionFormGroup, BlockID: templates.BlockGroup}
	a.SelectedOption.Value = jid
	ic.ActionCallback.BlockActions = []*slack.BlockAction{a}
	return ic
}

// TestFormAsksForASuccessor: picking a group whose only admin is the
// number updates the form with the successor choice (with the view's hash);
// submitting it records the request with that successor.
func TestFormAsksForASuccessor(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	tb.gw.Self = "79000000001@s.whatsapp.net"
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) { return onlyAdminGroup(ref), nil }
	const jid = "120363406289005073@g.us"

	tb.Interact(ctx, formPick("U0REQ1", jid))
	tb.background.Wait() // the update is sent after the ack
	updates := tb.slack.Answered("views.update")
	require.Len(t, updates, 1)
	require.Equal(t, "h1", updates[0].Form.Get("hash"), "the update is refused if the form changed meanwhile")
	require.Equal(t, "V1", updates[0].Form.Get("view_id"))
	view := updates[0].Form.Get("view")
	require.Contains(t, view, `"block_id":"successor"`)
	require.Contains(t, view, "79000000002@c.us")
	require.NotContains(t, view, "79000000001@c.us", "the number is not its own successor")

	var sub slack.InteractionCallback
	sub.Type = slack.InteractionTypeViewSubmission
	sub.Team.ID, sub.User.ID = "T1", "U0REQ1"
	sub.View.CallbackID, sub.View.PrivateMetadata = templates.CallbackRequest, `{"c":"C1"}`
	sub.View.State = &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
		templates.BlockGroup:     {templates.ActionFormGroup: {SelectedOption: slack.OptionBlockObject{Value: jid}}},
		templates.BlockGoodbye:   {templates.ActionFormGoodbye: {Value: "bye"}},
		templates.BlockSuccessor: {templates.ActionFormSuccessor: {SelectedOption: slack.OptionBlockObject{Value: "79000000003@c.us"}}},
	}}
	require.Nil(t, tb.Interact(ctx, sub))
	tb.background.Wait() // the successor is stored after the ack
	reqs := tb.requests(t)
	require.Len(t, reqs, 1)
	require.Equal(t, "C1", reqs[0].ChannelID)
	require.Equal(t, "bye", reqs[0].Goodbye)
	require.Equal(t, "79000000003@c.us", reqs[0].Successor)

	// A group with other admins needs no successor: no update.
	tb.gw.GroupFunc = func(_ context.Context, ref string) (whatsapp.Group, error) {
		g := onlyAdminGroup(ref)
		g.Participants[1].IsAdmin = true
		return g, nil
	}
	tb.Interact(ctx, formPick("U0REQ1", "120363400000000777@g.us"))
	tb.background.Wait()
	require.Len(t, tb.slack.Answered("views.update"), 1)
}

// TestFormSubmissionErrors: the form's problems come back next to their
// field, and nothing is recorded.
func TestFormSubmissionErrors(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	submit := func(user, jid, goodbye string) any {
		var sub slack.InteractionCallback
		sub.Type = slack.InteractionTypeViewSubmission
		sub.Team.ID, sub.User.ID = "T1", user
		sub.View.CallbackID, sub.View.PrivateMetadata = templates.CallbackRequest, `{"c":"C1"}`
		sub.View.State = &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
			templates.BlockGroup:   {templates.ActionFormGroup: {SelectedOption: slack.OptionBlockObject{Value: jid}}},
			templates.BlockGoodbye: {templates.ActionFormGoodbye: {Value: goodbye}},
		}}
		return tb.Interact(ctx, sub)
	}
	errsOf := func(v any) map[string]string {
		r, ok := v.(slack.ViewSubmissionResponse)
		require.True(t, ok, "%#v", v)
		require.Equal(t, slack.RAErrors, r.ResponseAction)
		return r.Errors
	}
	require.Contains(t, errsOf(submit("U0REQ1", "not-a-group", "bye")), templates.BlockGroup)
	require.Contains(t, errsOf(submit("U0REQ1", "120363406289005073@g.us", strings.Repeat("x", MaxGoodbyeLen+1)))[templates.BlockGoodbye], "limit is 1000")
	require.Contains(t, errsOf(submit("U0REQ1", "120363406289005073@g.us", "bye\u202e")), templates.BlockGoodbye)
	require.Contains(t, errsOf(submit("U0BAD9", "120363406289005073@g.us", "bye")), templates.BlockGroup, "someone not allowed is told so")
	require.Empty(t, tb.requests(t))
}

// TestFormFromShortcut: the shortcut's form asks for the channel, and only
// people allowed everywhere get it.
func TestFormFromShortcut(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{AllowedUsers: []string{"U0REQ1"}, AllowedChannels: []string{"C2"}})
	shortcut := func(user string) slack.InteractionCallback {
		var ic slack.InteractionCallback
		ic.Type, ic.CallbackID, ic.TriggerID = slack.InteractionTypeShortcut, templates.ShortcutNew, "1.2.3"
		ic.Team.ID, ic.User.ID = "T1", user
		return ic
	}
	tb.Interact(ctx, shortcut("U0CHAN7"))
	require.Empty(t, tb.slack.Answered("views.open"), "allowed only in a channel: no form outside one")
	tb.Interact(ctx, shortcut("U0REQ1"))
	opens := tb.slack.Answered("views.open")
	require.Len(t, opens, 1)
	require.Equal(t, "1.2.3", opens[0].Form.Get("trigger_id"))
	require.Contains(t, opens[0].Form.Get("view"), `"block_id":"channel"`)
	require.Contains(t, opens[0].Form.Get("view"), `"conversations_select"`)

	submit := func(channel string) any {
		var sub slack.InteractionCallback
		sub.Type = slack.InteractionTypeViewSubmission
		sub.Team.ID, sub.User.ID = "T1", "U0REQ1"
		sub.View.CallbackID, sub.View.PrivateMetadata = templates.CallbackRequest, `{}`
		sub.View.State = &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
			templates.BlockGroup:   {templates.ActionFormGroup: {SelectedOption: slack.OptionBlockObject{Value: "120363406289005073@g.us"}}},
			templates.BlockChannel: {templates.ActionFormChannel: {SelectedConversation: channel}},
		}}
		return tb.Interact(ctx, sub)
	}
	r, ok := submit("").(slack.ViewSubmissionResponse)
	require.True(t, ok)
	require.Contains(t, r.Errors, templates.BlockChannel)
	require.Nil(t, submit("C7"))
	reqs := tb.requests(t)
	require.Len(t, reqs, 1)
	require.Equal(t, "C7", reqs[0].ChannelID)
	require.Empty(t, reqs[0].Goodbye, "an empty goodbye field leaves without a word")
}

// TestHomeRepublishedOncePerBurst: a burst of changes republishes each
// recent viewer's Home tab once, not once per change.
func TestHomeRepublishedOncePerBurst(t *testing.T) {
	tb := newTestBot(t, Options{HomeDebounce: 50 * time.Millisecond})
	publishes := func(user string) int {
		n := 0
		for _, c := range tb.slack.Answered("views.publish") {
			if c.Form.Get("user_id") == user {
				n++
			}
		}
		return n
	}
	tb.AppHomeOpened("T1", "", "U0REQ1")
	tb.AppHomeOpened("T1", "", "U0CNF2")
	require.Eventually(t, func() bool { return publishes("U0REQ1") == 1 && publishes("U0CNF2") == 1 }, 5*time.Second, 10*time.Millisecond)
	tb.AppHomeOpened("T2", "", "U0OUT9")

	for range 5 {
		tb.homeChanged()
	}
	require.Eventually(t, func() bool { return publishes("U0REQ1") == 2 && publishes("U0CNF2") == 2 }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		tb.homes.mu.Lock()
		defer tb.homes.mu.Unlock()
		return len(tb.homes.due) == 0
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 2, publishes("U0REQ1"), "five changes, one publication")
	require.Zero(t, publishes("U0OUT9"), "someone from another workspace gets nothing")
}

// TestFormFillsTheGoodbyeForTheGroup: a default goodbye that names the
// group is filled again once a group is picked, unless it was edited.
func TestFormFillsTheGoodbyeForTheGroup(t *testing.T) {
	ctx := context.Background()
	tmpl, err := templates.ParseGoodbye("Bye from {{.GroupSubject}}!")
	require.NoError(t, err)
	tb := newTestBot(t, Options{DefaultGoodbye: tmpl})
	const jid = "120363406289005073@g.us"
	seedDirectory(t, tb.db.Directory(), 0, store.DirectoryEntry{JID: jid, Subject: "Night shift"})

	require.Nil(t, tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0REQ1", ChannelID: "C1", TriggerID: "1.2.3"}))
	opens := tb.slack.Answered("views.open")
	require.Len(t, opens, 1)
	var opened slack.ModalViewRequest
	require.NoError(t, json.Unmarshal([]byte(opens[0].Form.Get("view")), &opened))
	initial := tb.defaultGoodbye("", "", "")

	pick := func(typed string) {
		ic := formPick("U0REQ1", jid)
		ic.View.PrivateMetadata = opened.PrivateMetadata
		ic.View.State = &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
			templates.BlockGoodbye: {templates.ActionFormGoodbye: {Value: typed}},
		}}
		tb.Interact(ctx, ic)
		tb.background.Wait()
	}
	pick("Something else")
	require.Empty(t, tb.slack.Answered("views.update"), "an edited goodbye is left alone")

	pick(initial)
	updates := tb.slack.Answered("views.update")
	require.Len(t, updates, 1)
	view := updates[0].Form.Get("view")
	require.Contains(t, view, `"initial_value":"Bye from Night shift!"`)
	require.Contains(t, view, `"action_id":"form_goodbye_2"`, "a new action ID, so Slack takes the new text")
}

// TestFormWithSeveralNumbers: with several numbers the form asks which
// one leaves, the picker lists a group two numbers are in once, and the
// choice is the command's --from.
func TestFormWithSeveralNumbers(t *testing.T) {
	ctx := context.Background()
	tb, _, _ := twoNumbers(t)
	require.Nil(t, tb.Command(ctx, slack.SlashCommand{TeamID: "T1", UserID: "U0CNF2", ChannelID: "C1", TriggerID: "1.2.3"}))
	opens := tb.slack.Answered("views.open")
	require.Len(t, opens, 1)
	require.Contains(t, opens[0].Form.Get("view"), `"block_id":"number"`)
	require.Contains(t, opens[0].Form.Get("view"), `"value":"support"`)

	var ic slack.InteractionCallback
	ic.Type, ic.Team.ID, ic.User.ID, ic.Value = slack.InteractionTypeBlockSuggestion, "T1", "U0CNF2", "phoenix"
	ic.View.PrivateMetadata = `{"c":"C1"}`
	got := tb.Interact(ctx, ic).(templates.Options)
	require.Len(t, got.Options, 2, "Project Phoenix once, though both numbers are in it; Phoenix rollout")

	var sub slack.InteractionCallback
	sub.Type = slack.InteractionTypeViewSubmission
	sub.Team.ID, sub.User.ID = "T1", "U0CNF2"
	sub.View.CallbackID, sub.View.PrivateMetadata = templates.CallbackRequest, `{"c":"C1"}`
	sub.View.State = &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
		templates.BlockGroup:  {templates.ActionFormGroup: {SelectedOption: slack.OptionBlockObject{Value: jidPhoenix}}},
		templates.BlockNumber: {templates.ActionFormNumber: {SelectedOption: slack.OptionBlockObject{Value: "support"}}},
	}}
	require.Nil(t, tb.Interact(ctx, sub))
	reqs := tb.requests(t)
	require.Len(t, reqs, 1)
	require.Equal(t, "support", reqs[0].Number)
}
