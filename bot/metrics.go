package bot

import "github.com/prometheus/client_golang/prometheus"

// metrics are the bot's Prometheus series. Labels carry only fixed words
// (never IDs, group names or tokens), so cardinality stays small.
type metrics struct {
	commands     *prometheus.CounterVec
	interactions *prometheus.CounterVec
	outcomes     *prometheus.CounterVec
	gateway      *prometheus.CounterVec
	slackCalls   *prometheus.CounterVec
	reconnects   prometheus.Counter
	// followupsDropped counts ephemeral replies not sent because too many
	// were waiting.
	followupsDropped prometheus.Counter
	// repeats counts deliveries ignored as already handled (a replayed
	// signed command, an envelope Slack sent again), by kind.
	repeats *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waleave_commands_total", Help: "Slash commands by result.",
		}, []string{"result"}),
		interactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waleave_interactions_total", Help: "Button clicks by action and result.",
		}, []string{"action", "result"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waleave_leave_outcomes_total", Help: "Finished leave requests by outcome.",
		}, []string{"outcome"}),
		gateway: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waleave_gateway_calls_total", Help: "WhatsApp gateway calls by number, operation and result.",
		}, []string{"number", "op", "result"}),
		slackCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waleave_slack_calls_total", Help: "Slack Web API calls made by the outbox, by method and result.",
		}, []string{"method", "result"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waleave_socket_reconnects_total", Help: "Socket Mode reconnections.",
		}),
		followupsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waleave_followups_dropped_total", Help: "Ephemeral replies dropped because too many were waiting to be sent.",
		}),
		repeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waleave_repeated_deliveries_total", Help: "Deliveries ignored as already handled: a replayed signed request (sig) or a Socket Mode envelope sent again (env).",
		}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.commands, m.interactions, m.outcomes, m.gateway, m.slackCalls, m.reconnects, m.followupsDropped, m.repeats)
	}
	return m
}
