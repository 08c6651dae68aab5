package bot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// greenAPIFromCorpus is a Green API instance that answers each method
// with the corpus's documented answer: getGroupData says the instance
// (11001234567@c.us) is the group's only admin, getSettings carries its
// wid, and getWaSettings answers as documented, without one.
func greenAPIFromCorpus(t *testing.T) (whatsapp.Gateway, func() []string) {
	t.Helper()
	corpus := func(name string) answer {
		return readAnswer(t, filepath.Join(answersDir, "greenapi", name+".txtar"))
	}
	byMethod := map[string]answer{
		"getStateInstance": corpus("state_authorized"),
		"getSettings":      corpus("me_getsettings"),
		"getGroupData":     corpus("group_ok"),
		"getChats":         corpus("groups_getchats"),
	}
	var mu sync.Mutex
	var methods []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/") // "", waInstance…, method, token
		method := parts[len(parts)-2]
		mu.Lock()
		methods = append(methods, method)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if method == "getWaSettings" {
			// See https://green-api.com/en/docs/api/account/GetWaSettings/
			_, _ = w.Write([]byte(`{"avatar": "", "phone": "11001234567", "stateInstance": "authorized", "deviceId": "11001234567:26@s.whatsapp.net"}`))
			return
		}
		a, ok := byMethod[method]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	t.Cleanup(srv.Close)
	cfg := answerConfig["greenapi"]
	cfg.BaseURL = srv.URL
	gw, err := whatsapp.New("greenapi", cfg, srv.Client())
	require.NoError(t, err)
	return gw, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), methods...)
	}
}

// With a real Green API instance that is a group's only admin, the card
// warns and offers the successor choice (SPEC §5.1): the instance's own
// number comes from getSettings, since getStateInstance does not name it
// and getWaSettings has no wid.
func TestCard_GreenAPIOnlyAdminFromItsOwnNumber(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	gw, methods := greenAPIFromCorpus(t)
	tb.Bot.numbers[0].Gateway = gw
	tb.command(answerGroup + " bye")
	r := tb.requests(t)[0]
	tb.deliver(r.ID)

	posts := tb.slack.Answered("chat.postMessage")
	require.Len(t, posts, 1)
	blocks := posts[0].Form.Get("blocks")
	require.Contains(t, blocks, "only admin")
	require.Contains(t, blocks, `"action_id":"leave_successor"`)
	require.Contains(t, blocks, "79001234567@c.us")
	require.Contains(t, blocks, "79001234568@c.us")
	require.NotContains(t, blocks, "11001234567@c.us", "the instance is not its own successor")
	require.Contains(t, blocks, "Night shift", "the gateway's subject")

	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, store.DetailsOK, got.DetailsState)
	require.True(t, got.IsAdmin)
	require.True(t, got.OnlyAdmin)
	require.Contains(t, methods(), "getSettings")
	require.NotContains(t, methods(), "getWaSettings")
}
