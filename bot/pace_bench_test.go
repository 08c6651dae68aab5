package bot

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waleave/waleave/fake"
	"github.com/waleave/waleave/leave"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// BenchmarkBulkPace runs one confirmed bulk request over
// WALEAVE_BENCH_GROUPS groups (default 20; the figures in bench/README.md
// are for 1,000) with a goodbye, through the real leave jobs (River,
// SQLite), the real gateway client and a fake gateway that enforces the
// provider's documented rate and answers 429 beyond it
// (fake.Provider.EnforceRates). The client takes its slots from the
// database's bucket, as replicas do (WALEAVE_BENCH_LIMITER=process: its
// own limiter, as one process on SQLite does). It reports the 429s, the
// calls a second of the run's bottleneck (the gateway's counter that ran
// closest to its limit: a Green API method, RyzeAPI's token, Wawp's
// instance) over the run, that as a percentage of the documented rate,
// groups a second, and how many leaves were verified. 1,000 groups take
// about 18 minutes on Green API (its getGroupData, one a second), 11 on
// Wawp and 34 on RyzeAPI; pick one with -bench BenchmarkBulkPace/ryzeapi.
func BenchmarkBulkPace(b *testing.B) {
	groups := 20
	if v := os.Getenv("WALEAVE_BENCH_GROUPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			b.Fatalf("WALEAVE_BENCH_GROUPS=%q: want a number of groups, 2 or more", v)
		}
		groups = n
	}
	shared := os.Getenv("WALEAVE_BENCH_LIMITER") != "process"
	for _, provider := range []string{"greenapi", "wawp", "ryzeapi"} {
		b.Run(provider, func(b *testing.B) {
			for b.Loop() {
				bulkPaceRun(b, provider, groups, shared)
			}
		})
	}
}

func bulkPaceRun(b *testing.B, provider string, groups int, shared bool) {
	ctx := context.Background()
	tb := newTestBot(&testing.T{}, Options{AllowedUsers: []string{"U0REQ1", "U0CNF2"}})
	defer tb.db.Close()
	tb.opts.Now = time.Now

	gw := fake.NewProvider(b, provider)
	gw.EnforceRates()
	gw.Self = "79000000001"
	jids := make([]string, groups)
	gw.Groups = map[string]string{}
	for i := range jids {
		jids[i] = fmt.Sprintf("12036340%010d@g.us", i)
		gw.Groups[jids[i]] = fmt.Sprintf("ops %d", i)
	}
	for i := range 5 {
		// Groups the number stays in: a list is never empty.
		gw.Groups[fmt.Sprintf("12036341%010d@g.us", i)] = fmt.Sprintf("kept %d", i)
	}
	cfg := whatsapp.Config{BaseURL: gw.URL, Instance: "1101000001", Token: "bench-token"}
	if shared {
		cfg.Limiter = tb.db.Jobs()
	}
	client, err := whatsapp.New(provider, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	tb.numbers[0].Gateway = client
	if err := tb.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = tb.Stop(sctx)
	}()

	now := time.Now()
	parent := &store.Request{ChannelID: "C0BENCH", RequesterID: "U0REQ1", Goodbye: "Thanks all, this number is leaving the group.",
		GroupSubject: "groups matching “ops”", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	children := make([]*store.Request, groups)
	for i, jid := range jids {
		children[i] = &store.Request{GroupJID: jid, GroupSubject: gw.Groups[jid]}
	}
	if err := tb.db.Requests().CreateBulk(ctx, parent, children); err != nil {
		b.Fatal(err)
	}
	if err := tb.db.Outbox().CardPosted(ctx, parent.ID, testCardTS, parent.CardVersion); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := tb.confirmer.Confirm(ctx, parent.ID, "U0CNF2", store.Card{ChannelID: "C0BENCH", TS: testCardTS, Version: parent.CardVersion}, start); err != nil {
		b.Fatal(err)
	}
	var got []*store.Request
	deadline := start.Add(time.Duration(groups)*2*time.Second + 5*time.Minute)
	for {
		got, err = tb.db.Requests().Children(ctx, parent.ID)
		if err != nil {
			b.Fatal(err)
		}
		if !slices.ContainsFunc(got, func(r *store.Request) bool { return r.State != leave.Done && r.State != leave.Failed }) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: the run did not end in time", provider)
		}
		time.Sleep(time.Second)
	}
	elapsed := time.Since(start)

	outcomes := map[string]int{}
	verified := 0
	for _, r := range got {
		outcomes[string(r.Outcome)]++
		if r.Verification == store.Verified {
			verified++
		}
	}
	counter, perSecond, limit, perOp := bottleneck(provider, gw.Calls(""))
	b.ReportMetric(float64(gw.Limited()), "429s")
	b.ReportMetric(perSecond, "calls/s")
	b.ReportMetric(100*perSecond/limit, "%-of-documented")
	b.ReportMetric(float64(groups)/elapsed.Seconds(), "groups/s")
	b.ReportMetric(elapsed.Seconds(), "run-s")
	b.ReportMetric(100*float64(verified)/float64(groups), "%-verified")
	b.Logf("%s: %d groups in %s; bottleneck %s at %.3f/s of %g/s (%.1f %%); 429s %d; outcomes %v; verified %d; calls %s; %s, %d CPUs, limiter shared=%v",
		provider, groups, elapsed.Round(time.Millisecond), counter, perSecond, limit, 100*perSecond/limit, gw.Limited(), outcomes, verified, perOp, runtime.GOARCH, runtime.NumCPU(), cfg.Limiter != nil)
	if gw.Limited() > 0 {
		var limited []string
		for _, c := range gw.Calls("") {
			if c.Limited {
				limited = append(limited, c.Op+" at "+c.At.Sub(start).String())
			}
		}
		b.Errorf("%s: %d calls answered 429: %s", provider, gw.Limited(), strings.Join(limited, ", "))
	}
}

// bottleneck is the gateway's counter that bounds the run, as the fake
// counts it, and its calls a second over the run ((calls-1) over the time
// from its first call to its last): RyzeAPI's token and Wawp's instance,
// which every call shares; on Green API the method every group calls
// that needs the most of its documented rate: getGroupData, the
// only-admin check before anything is sent, at one a second (the group
// list, also one a second, is shared and runs as often as there are
// leaves to check). The other counters are listed with their rates.
func bottleneck(provider string, calls []fake.ProviderCall) (counter string, perSecond, limit float64, others string) {
	byCounter := map[string][]time.Time{}
	for _, c := range calls {
		if c.Limited {
			continue
		}
		key := "token"
		switch provider {
		case "greenapi":
			key = c.Op
		case "wawp":
			key = "instance"
		}
		byCounter[key] = append(byCounter[key], c.At)
		if provider != "greenapi" {
			byCounter[c.Op] = append(byCounter[c.Op], c.At)
		}
	}
	counter = map[string]string{"wawp": "instance", "ryzeapi": "token"}[provider]
	if provider == "greenapi" {
		// Of the methods every group calls, the one whose calls need the
		// most of its documented rate.
		most := 0.0
		for _, m := range []string{"getGroupData", "sendMessage", "leaveGroup"} {
			if need := float64(len(byCounter[m])) / float64(fake.GreenAPIRate(m)); need > most {
				most, counter = need, m
			}
		}
	}
	var parts []string
	for key, at := range byCounter {
		slices.SortFunc(at, time.Time.Compare)
		rate := 0.0
		if len(at) > 1 {
			rate = float64(len(at)-1) / at[len(at)-1].Sub(at[0]).Seconds()
		}
		if key == counter {
			perSecond = rate
			if os.Getenv("WALEAVE_BENCH_GAPS") != "" {
				for i := 1; i < len(at); i++ {
					if gap := at[i].Sub(at[i-1]); gap > time.Duration(1.5*float64(time.Second)/limitOf(provider, key)) {
						fmt.Fprintf(os.Stderr, "%s gap before call %d of %d: %s\n", key, i+1, len(at), gap)
					}
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s %d (%.3f/s)", key, len(at), rate))
	}
	slices.Sort(parts)
	return counter, perSecond, limitOf(provider, counter), strings.Join(parts, ", ")
}

// limitOf is the documented limit of a counter, in calls a second.
func limitOf(provider, counter string) float64 {
	switch provider {
	case "greenapi":
		return float64(fake.GreenAPIRate(counter))
	case "ryzeapi":
		return 100.0 / 60
	}
	return fake.WawpRate
}
