package bot

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
)

// retentionStore is what the retention job needs of the store.
type retentionStore interface {
	Prune(ctx context.Context, before, now time.Time) (int, error)
}

// retentionEvery is how often requests past WALEAVE_RETENTION are
// looked for. Between runs at most this much history is kept beyond
// the window; an idle run is one indexed query.
const retentionEvery = 10 * time.Minute

// retentionBudget bounds one run's pruning, well inside River's job
// timeout: a run that finds more (the first run on a large history)
// leaves the rest to the next one rather than being cut off mid-batch.
const retentionBudget = 30 * time.Second

// retentionArgs is the periodic job that deletes requests that ended
// before the retention window. River runs periodic jobs on its leader
// only, so with several replicas each run happens once.
type retentionArgs struct{}

// Kind names the job in River's table.
func (retentionArgs) Kind() string { return "retention" }

type retentionWorker struct {
	river.WorkerDefaults[retentionArgs]
	b *Bot
}

// Work runs one pruning.
func (w *retentionWorker) Work(ctx context.Context, _ *river.Job[retentionArgs]) error {
	return w.b.Prune(ctx)
}

// Prune deletes the requests that ended more than Retention ago, with
// their audit entries (see store.Requests.Prune), for at most retentionBudget.
// With Retention zero it does nothing.
func (b *Bot) Prune(ctx context.Context) error {
	if b.opts.Retention <= 0 {
		return nil
	}
	now := b.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, retentionBudget)
	defer cancel()
	n, err := b.retentionStore.Prune(ctx, now.Add(-b.opts.Retention), now)
	if n > 0 {
		b.log.Info("old requests deleted", "requests", n, "retention", b.opts.Retention.String())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return nil // the rest at the next run
	}
	return err
}
