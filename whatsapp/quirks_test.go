package whatsapp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every provider names its own instance and gives a group's invite link
// through the Gateway interface, each where its gateway tells: the caller
// needs no provider's quirks.
func TestGatewayFillsInItsOwnNumberAndInviteLink(t *testing.T) {
	t.Parallel()
	const link = "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"
	cases := []struct {
		provider string
		// answers by path; a path not listed is a test failure.
		answers map[string]string
		me      string
		// askedLink is the link given for a group whose details carry
		// none; it asks the gateway only where the details never carry it.
		askedLink string
	}{
		{"greenapi", map[string]string{
			"/waInstance" + testInstance + "/getSettings/" + testToken: `{"wid": "79001234567@c.us"}`,
		}, "79001234567@c.us", ""},
		{"wawp", map[string]string{
			"/v2/session/info":                         `{"status": "WORKING", "me": {"id": "79001234567@c.us"}}`,
			"/v2/groups/" + testGroup + "/invite-code": `"` + link + `"`,
		}, "79001234567@c.us", link},
		{"ryzeapi", map[string]string{
			"/api/instance/list": `{"success": true, "data": [{"name": "` + testInstance + `", "connection": {"state": "connected", "numberJid": "5511@s.whatsapp.net"}}]}`,
		}, "5511@s.whatsapp.net", ""},
	}
	for _, c := range cases {
		t.Run(c.provider, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var paths []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				paths = append(paths, r.URL.Path)
				mu.Unlock()
				body, ok := c.answers[r.URL.Path]
				if !ok {
					t.Errorf("unexpected call %s", r.URL.Path)
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
			}))
			defer srv.Close()
			gw := newGateway(t, c.provider, srv.URL, nil)
			ctx := context.Background()
			require.False(t, gw.DryRun(), "its calls reach WhatsApp")

			me, err := gw.Me(ctx)
			require.NoError(t, err)
			require.Equal(t, c.me, me)

			mu.Lock()
			paths = nil
			mu.Unlock()
			got, err := gw.InviteLink(ctx, Group{JID: testGroup, InviteLink: link})
			require.NoError(t, err)
			require.Equal(t, link, got, "the link the details carry")
			mu.Lock()
			require.Empty(t, paths, "no call when the details carry the link")
			mu.Unlock()

			got, err = gw.InviteLink(ctx, Group{JID: testGroup})
			require.NoError(t, err)
			require.Equal(t, c.askedLink, got)
		})
	}
}

func TestDryRunFillsInItsOwnNumberAndInviteLink(t *testing.T) {
	d := NewDryRun(nil)
	ctx := context.Background()
	require.True(t, d.DryRun())
	me, err := d.Me(ctx)
	require.NoError(t, err)
	require.Equal(t, DryRunMe, me)
	g := DryRunGroups()[0]
	got, err := d.InviteLink(ctx, g)
	require.NoError(t, err)
	require.Equal(t, g.InviteLink, got)
}
