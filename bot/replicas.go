package bot

import (
	"context"
	"time"
)

// replicaStore is what the heartbeat and reclaiming need of the store.
type replicaStore interface {
	ReclaimAll(ctx context.Context) error
	Heartbeat(ctx context.Context, id string) error
	ReclaimFromDead(ctx context.Context, kind string, staleAfter, runTimeout time.Duration) (int64, error)
	ReplicaGone(ctx context.Context, id string) error
}

// With several replicas on PostgreSQL, a replica that dies leaves its
// running leave jobs marked "running". River's rescuer would run them
// again only after RescueStuckJobsAfter, and it looks every 30 s: over a
// minute in all, and a restart of a lone replica waited as long (SPEC §5
// asks for 30 s), and its Slack messages waited 45 s for its outbox
// leases to run out. So each replica writes a heartbeat, and each one
// takes back what replicas whose heartbeat stopped left: their outbox
// leases at once, their leave jobs once each run has outlived its timeout
// (a replica that was only paused has given up its run by then). The
// rescuer stays as the backstop for clients that never beat.
const (
	// heartbeatEvery is how often a replica says it is alive and looks
	// for dead ones.
	heartbeatEvery = 2 * time.Second
	// deadAfter is how long without a heartbeat makes a replica dead:
	// five missed beats, so a slow query or a GC pause does not.
	deadAfter = 10 * time.Second
)

// startHeartbeat writes this replica's first heartbeat (before River
// fetches any job under its ID) and keeps beating until ctx ends.
func (b *Bot) startHeartbeat(ctx context.Context) error {
	if err := b.replicaStore.Heartbeat(ctx, b.jobs.ID()); err != nil {
		return err
	}
	b.beats.Add(1)
	go func() {
		defer b.beats.Done()
		b.heartbeatLoop(ctx, time.Now())
	}()
	return nil
}

func (b *Bot) heartbeatLoop(ctx context.Context, lastBeat time.Time) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := b.replicaStore.Heartbeat(ctx, b.jobs.ID()); err != nil {
			if ctx.Err() == nil {
				b.log.Warn("heartbeat not written", "err", err)
			}
			continue
		}
		// If this replica could not beat for a while either, the database
		// was out of reach for everyone: the others' beats are late too,
		// and they are not dead. Look again next time.
		gap := time.Since(lastBeat)
		lastBeat = time.Now()
		if gap > deadAfter/2 {
			continue
		}
		n, err := b.replicaStore.ReclaimFromDead(ctx, leaveKind, deadAfter, leaveRunTimeout(b.opts)+2*time.Second)
		switch {
		case err != nil && ctx.Err() == nil:
			b.log.Warn("reclaim from dead replicas", "err", err)
		case n > 0:
			b.log.Info("requeued the jobs of a replica that stopped", "jobs", n)
		}
	}
}

// stopHeartbeat stops beating and marks this replica gone, so the others
// take back what it leaves without waiting for its heartbeat to go stale.
func (b *Bot) stopHeartbeat(stopBeating context.CancelFunc) {
	stopBeating()
	b.beats.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.replicaStore.ReplicaGone(ctx, b.jobs.ID()); err != nil {
		b.log.Warn("mark replica gone", "err", err)
	}
}
