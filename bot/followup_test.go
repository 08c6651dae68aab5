package bot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/templates"
)

func TestEphemeral_RepeatedClicksOnADecidedCardAnsweredOncePerWindow(t *testing.T) {
	ctx := context.Background()
	tb := newTestBot(t, Options{})
	r := tb.pending(t, nil)
	err := tb.confirm(ctx, r.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)

	// Another card, also decided.
	other := tb.pending(t, nil)
	require.NoError(t, tb.db.Outbox().CardPosted(ctx, other.ID, "1700000000.000002", other.CardVersion))
	err = tb.confirm(ctx, other.ID, "U0CNF2", tb.clock.Now())
	require.NoError(t, err)

	onCard := func(user, ts string) slack.InteractionCallback {
		id := r.ID
		if ts != testCardTS {
			id = other.ID
		}
		ic := click(user, "C1", templates.ActionConfirm, id)
		ic.Container.MessageTs = ts
		return ic
	}
	for range 5 {
		tb.Interaction(ctx, onCard("U0REQ1", testCardTS))
	}
	tb.Interaction(ctx, onCard("U0CNF2", testCardTS))
	tb.background.Wait()
	eph := tb.slack.Answered("chat.postEphemeral")
	require.Len(t, eph, 2, "one answer per person, not one per click")
	require.Contains(t, eph[0].Form.Get("text"), "already")

	// The same words about another card are another answer.
	tb.Interaction(ctx, onCard("U0REQ1", "1700000000.000002"))
	tb.background.Wait()
	require.Len(t, tb.slack.Answered("chat.postEphemeral"), 3)
	require.Contains(t, tb.slack.Answered("chat.postEphemeral")[2].Form.Get("text"), "already")

	tb.clock.Add(repeatWindow)
	tb.Interaction(ctx, onCard("U0REQ1", testCardTS))
	tb.background.Wait()
	require.Len(t, tb.slack.Answered("chat.postEphemeral"), 4, "told again once the window has passed")
	got, err := tb.db.Requests().Request(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, leave.Confirmed, got.State)
}

func TestLater_DropsFollowupsBeyondTheBacklog(t *testing.T) {
	tb := newTestBot(t, Options{})
	release := make(chan struct{})
	started := make(chan struct{}, maxFollowupsRunning+maxFollowupsPending)
	var ran sync.WaitGroup
	block := func(ctx context.Context) {
		defer ran.Done()
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	// Every worker busy, then a full queue behind them.
	for range maxFollowupsRunning {
		ran.Add(1)
		tb.afterAck(block)
	}
	for range maxFollowupsRunning {
		<-started
	}
	for range maxFollowupsPending {
		ran.Add(1)
		tb.afterAck(block)
	}
	require.Zero(t, testutil.ToFloat64(tb.metrics.followupsDropped))
	tb.afterAck(func(context.Context) { t.Error("a follow-up beyond the backlog ran") })
	require.Equal(t, 1.0, testutil.ToFloat64(tb.metrics.followupsDropped))
	close(release)
	ran.Wait()
	tb.background.Wait()
	require.Len(t, started, maxFollowupsPending, "every queued follow-up ran")

	// With the backlog drained, follow-ups run again.
	done := make(chan struct{})
	tb.afterAck(func(context.Context) { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a follow-up after the backlog drained did not run")
	}
}

// A response_url is a credential: an error posting to it must not quote it.
func TestPostResponse_ErrorDoesNotQuoteTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	secret := "/actions/T0/123/SECRETRESPONSETOKEN"
	err := postResponse(context.Background(), base+secret, &slack.WebhookMessage{Text: "x"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "SECRETRESPONSETOKEN")
	require.Contains(t, err.Error(), "post to response_url")
}

// A follow-up that panics is logged and forgotten; the workers keep
// serving the others.
func TestFollowup_PanicDoesNotStopTheWorkers(t *testing.T) {
	tb := newTestBot(t, Options{})
	for range 2 * maxFollowupsRunning {
		tb.afterAck(func(context.Context) { panic("a bug") })
	}
	ran := make(chan struct{})
	tb.afterAck(func(context.Context) { close(ran) })
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("the follow-up after the panics never ran")
	}
}

// A response_url goes only to Slack's hooks hosts over https (or to this
// machine, where tests listen), and a redirect from it is not followed:
// the message, and the next hop's view of it, stay with Slack.
func TestPostResponse_OnlySlackAndNoRedirects(t *testing.T) {
	for _, raw := range []string{
		"https://hooks.slack.com/actions/T1/1/x", "https://hooks.slack-gov.com/commands/T1/1/x",
		"http://127.0.0.1:1/actions/T1/1/x", "https://[::1]:1/x", "http://localhost:1/x",
	} {
		require.NoError(t, checkResponseURL(raw), raw)
	}
	for _, raw := range []string{
		"http://hooks.slack.com/actions/T1/1/x", "https://hooks.slack.com:8443/x", "https://evil.example/actions/T1/1/x",
		"https://hooks.slack.com.evil.example/x", "https://user:pw@hooks.slack.com/x", "ftp://hooks.slack.com/x",
		"file:///etc/passwd", "http://10.0.0.1/x", "gopher://127.0.0.1:1/x", "://", "",
	} {
		require.Error(t, checkResponseURL(raw), raw)
	}

	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer hook.Close()
	err := postResponse(context.Background(), hook.URL+"/actions/T1/1/x", &slack.WebhookMessage{Text: "x"})
	require.Error(t, err, "a redirect is a failed post")
	require.Zero(t, elsewhere.Load(), "the redirect was followed")

	err = postResponse(context.Background(), "https://evil.example/actions/T1/1/SECRETRESPONSETOKEN", &slack.WebhookMessage{Text: "x"})
	require.ErrorContains(t, err, "not on Slack's hooks host")
	require.NotContains(t, err.Error(), "SECRETRESPONSETOKEN")
}
