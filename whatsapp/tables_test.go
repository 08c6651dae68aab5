package whatsapp

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wireCase is one call and exactly what must go over the wire for it.
type wireCase struct {
	name   string
	call   func(ctx context.Context, gw Gateway) (any, error)
	answer string
	method string
	path   string // escaped
	query  string // raw
	body   string // JSON; empty when the request has none
	want   any
}

// runWire checks each case against a fake gateway: one request with the
// given method, escaped path, query, headers and JSON body, and the given
// result. header lists headers every request of the provider must carry
// ("" meaning absent).
func runWire(t *testing.T, provider string, header map[string]string, cases []wireCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, seen := serve(t, answer{body: tt.answer})
			got, err := tt.call(context.Background(), newGateway(t, provider, srv.URL, nil))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)

			reqs := seen()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, tt.method, r.Method)
			assert.Equal(t, tt.path, r.Path)
			assert.Equal(t, tt.query, r.RawQuery)
			for k, v := range header {
				assert.Equal(t, v, r.Header.Get(k), "header %s", k)
			}
			if tt.body == "" {
				assert.Empty(t, r.Body)
				assert.Empty(t, r.Header.Get("Content-Type"))
			} else {
				assert.JSONEq(t, tt.body, r.Body)
				assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			}
		})
	}
}

// classCase is one gateway answer and how it must be classified.
type classCase struct {
	name       string
	call       string // a Gateway method name
	answer     answer
	kind       error
	status     int
	msg        string // expected inside Message
	retryAfter time.Duration
}

// testNow is the fixed clock of classification tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func runClassification(t *testing.T, provider string, cases []classCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, seen := serve(t, tt.answer)
			gw := newGateway(t, provider, srv.URL, nil)
			clientOf(gw).now = func() time.Time { return testNow }
			err := callByName(context.Background(), gw, tt.call)
			e := requireKind(t, err, tt.kind, tt.status)
			assert.Equal(t, provider, e.Provider)
			assert.NotEmpty(t, e.Op)
			assert.Contains(t, e.Message, tt.msg)
			assert.Equal(t, tt.retryAfter, e.RetryAfter)
			assert.Len(t, seen(), 1)
		})
	}
}

func callByName(ctx context.Context, gw Gateway, method string) error {
	var err error
	switch method {
	case "Leave":
		_, err = gw.Leave(ctx, testGroup)
	case "SendText":
		_, err = gw.SendText(ctx, testGroup, "bye")
	case "Group":
		_, err = gw.Group(ctx, testGroup)
	case "Groups":
		_, err = gw.Groups(ctx)
	case "Promote":
		err = gw.Promote(ctx, testGroup, testUser)
	case "State":
		_, err = gw.State(ctx)
	case "LastActivity":
		_, err = gw.LastActivity(ctx, testGroup)
	default:
		panic("unknown method " + method)
	}
	return err
}
