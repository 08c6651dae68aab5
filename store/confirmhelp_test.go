package store_test

import (
	"context"
	"database/sql"
	"time"

	"github.com/waleave/waleave/store"
)

// confirm confirms request id as production does, through a
// store.Confirmer and from the request's card as it is now, and runs
// enqueue (nil: nothing) in the confirmation's transaction. It returns the
// request as it is afterwards, or the Confirmer's refusal with the
// request as it was.
func confirm(ctx context.Context, db *store.DB, id, by string, now time.Time, enqueue store.Enqueue) (*store.Request, error) {
	r, err := db.Requests().Request(ctx, id)
	if err != nil {
		return nil, err
	}
	card := store.Card{ChannelID: r.ChannelID, TS: r.CardTS, Version: r.CardVersion}
	if card.TS == "" {
		// Not posted yet: a click that beats the outbox's write of the ts.
		card.TS = "1.000001"
	}
	c := db.Requests().NewConfirmer(func(ctx context.Context, tx *sql.Tx, _ []store.Confirmation) error {
		if enqueue == nil {
			return nil
		}
		return enqueue(ctx, tx)
	})
	if r, err := c.Confirm(ctx, id, by, card, now); err != nil {
		return r, err
	}
	return db.Requests().Request(ctx, id)
}
