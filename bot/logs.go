package bot

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// riverLogHandler is the handler River logs through: it lowers River's
// info records to debug and passes warnings and errors as they are.
// River logs its bookkeeping at info (each producer's job counts every few
// seconds, each maintenance service's "Ran successfully" with its counters,
// the client's start and stop, each job that returned an error), which at
// info buries what a person reads the log for. Job errors are logged by
// jobErrorLog instead, at warn.
type riverLogHandler struct{ slog.Handler }

// quiet is the level River's record at l is logged at.
func quiet(l slog.Level) slog.Level {
	if l >= slog.LevelInfo && l < slog.LevelWarn {
		return slog.LevelDebug
	}
	return l
}

func (h riverLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, quiet(l))
}

func (h riverLogHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = quiet(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h riverLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return riverLogHandler{h.Handler.WithAttrs(attrs)}
}

func (h riverLogHandler) WithGroup(name string) slog.Handler {
	return riverLogHandler{h.Handler.WithGroup(name)}
}

// jobErrorLog is River's ErrorHandler: it logs a job's error at warn and a
// panic at error, which River itself logs only at info, and changes
// nothing about the retry.
type jobErrorLog struct{ log *slog.Logger }

func (j jobErrorLog) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	msg := "job failed; River will run it again"
	if job.Attempt >= job.MaxAttempts {
		msg = "job failed for the last time"
	}
	j.log.WarnContext(ctx, msg, "job", job.Kind, "job_id", job.ID, "attempt", job.Attempt, "err", err)
	return nil
}

func (j jobErrorLog) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	j.log.ErrorContext(ctx, "job panicked", "job", job.Kind, "job_id", job.ID, "attempt", job.Attempt, "panic", fmt.Sprint(panicVal), "trace", trace)
	return nil
}
