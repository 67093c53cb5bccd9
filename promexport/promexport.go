// Package promexport exports the measurements of propsec's packages to
// Prometheus.
//
// # Use
//
// Make an [Exporter] on a registry of your own and give it, as the
// security.Observer, to the Config of each package you want measured:
//
//	reg := prometheus.NewRegistry()
//	exp, err := promexport.New(promexport.Config{Registerer: reg, Sessions: store, Alerts: store})
//	...
//	sessions, _ := session.New(session.Config{..., Observer: exp})
//	h, _ := httpadapter.New(httpadapter.Config{..., Observer: exp})
//	go http.ListenAndServe("127.0.0.1:9090", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The core packages define the hook ([security.Observer]) and import
// nothing of Prometheus; only this package does, so a host that does not
// import it does not link the Prometheus client. The exporter never uses
// the default registry unless it is given it.
//
// # Labels
//
// Every label takes values from a fixed set made when the Exporter is
// built: the Result values documented on [security.Kind]. A result outside
// that set is counted under "other", so no label value ever carries a user
// id, email, IP address, token or path, whatever an observer is told.
//
// # Gauges
//
// Live sessions and open alerts are read from the stores when Prometheus
// scrapes, not counted as they change (a count kept in memory would be
// wrong after a restart and on every instance but one). Each read is one
// count query per gauge (five in all), under a timeout
// ([Config.GaugeTimeout]), and is reused for [Config.GaugeTTL], so
// scraping often, or from several Prometheus servers, costs at most one
// round of queries per TTL. A failed read leaves its gauges out of that
// scrape and counts propsec_gauge_errors_total.
package promexport

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/propops/propsec/integrity"
	"github.com/propops/propsec/security"
	"github.com/propops/propsec/session"
)

// Config configures [New].
type Config struct {
	// Registerer receives the metrics. Required: pass
	// prometheus.DefaultRegisterer explicitly to use the default registry.
	Registerer prometheus.Registerer
	// Namespace prefixes every metric name. Default "propsec".
	Namespace string
	// Sessions, if set, is counted at scrape time for the
	// <namespace>_sessions_live gauge.
	Sessions session.Store
	// Alerts, if set, is counted at scrape time for the
	// <namespace>_alerts_open{severity} gauge.
	Alerts integrity.Store
	// GaugeTTL is how long a read of the gauges is reused. Default 10
	// seconds.
	GaugeTTL time.Duration
	// GaugeTimeout bounds one read of the gauges. Default 2 seconds.
	GaugeTimeout time.Duration
	// Clock tells the time that decides which sessions are live; nil
	// means the system clock.
	Clock security.Clock
}

// labelSet holds the children of a vector with one label, made in advance
// for every allowed value and "other".
type labelSet[T any] map[string]T

// get returns the child of value, or of "other" for a value outside the set.
func (s labelSet[T]) get(value string) T {
	if c, ok := s[value]; ok {
		return c
	}
	return s["other"]
}

func newLabelSet[T any](child func(...string) T, values ...string) labelSet[T] {
	s := labelSet[T]{}
	for _, v := range append(values, "other") {
		s[v] = child(v)
	}
	return s
}

// counterSet is a counter vector's labelSet.
type counterSet = labelSet[prometheus.Counter]

// histogramSet is a histogram vector's labelSet.
type histogramSet = labelSet[prometheus.Observer]

// Exporter is a [security.Observer] that keeps Prometheus metrics. It is
// safe for concurrent use.
type Exporter struct {
	logins, lockouts, csrf, terminated, scans, breachLookups, breachCache,
	breachUpstream, audit, storeErrors counterSet
	auth            histogramSet
	requests        histogramSet
	blacklisted     prometheus.Counter
	scanFiles       prometheus.Counter
	scanDuration    prometheus.Histogram
	breachDuration  prometheus.Histogram
	realtimeChecks  prometheus.Counter
	fallbacks       counterSet
	unknownMeasures prometheus.Counter
}

// latencyBuckets suit requests and checks that take from 100µs to 1s.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// New registers the metrics on cfg.Registerer and returns the Exporter
// that updates them.
func New(cfg Config) (*Exporter, error) {
	if cfg.Registerer == nil {
		return nil, errors.New("promexport: Config.Registerer is required")
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = "propsec"
	}
	var cs []prometheus.Collector
	counterVec := func(name, help, label string, values ...string) counterSet {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, []string{label})
		cs = append(cs, v)
		return newLabelSet(v.WithLabelValues, values...)
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help})
		cs = append(cs, c)
		return c
	}
	histogramVec := func(name, help, label string, buckets []float64, values ...string) histogramSet {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help,
			Buckets: buckets}, []string{label})
		cs = append(cs, v)
		return newLabelSet(v.WithLabelValues, values...)
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: buckets})
		cs = append(cs, h)
		return h
	}
	e := &Exporter{
		logins: counterVec("logins_total", "Login attempts by result.", "result",
			"ok", "bad_credentials", "throttled", "blacklisted", "error"),
		lockouts: counterVec("lockouts_total", "Emails or IPs locked out after too many failed logins.", "key",
			"email", "ip"),
		auth: histogramVec("authentications_seconds", "Credential checks by result, and how long they took.",
			"result", latencyBuckets, "ok", "unauthenticated", "error"),
		requests: histogramVec("authenticated_requests_seconds",
			"Authenticated requests to the API by status class, and how long they took.", "class", latencyBuckets,
			"2xx", "3xx", "4xx", "5xx"),
		csrf: counterVec("csrf_refusals_total", "Requests refused by a CSRF or origin check, by reason.", "reason",
			string(security.CSRFMissing), string(security.CSRFForged), string(security.CSRFForeign),
			string(security.CSRFReplayed), string(security.CSRFExpired), "cross_origin"),
		terminated: counterVec("sessions_terminated_total", "Sessions ended by a staff action or a blacklisting.",
			"reason", "terminated", "blacklisted"),
		blacklisted: counter("users_blacklisted_total", "Users added to the blacklist."),
		scans: counterVec("integrity_checks_total", "Finished integrity checks by result.", "result",
			"ok", "error", "canceled"),
		scanFiles: counter("integrity_files_scanned_total", "Files examined by integrity checks."),
		scanDuration: histogram("integrity_check_duration_seconds", "How long integrity checks took.",
			prometheus.ExponentialBuckets(0.1, 2, 14)),
		realtimeChecks: counter("integrity_realtime_rechecks_total",
			"Batches of changed paths re-checked by real-time detection."),
		fallbacks: counterVec("integrity_realtime_fallbacks_total",
			"Full scans real-time detection fell back to, by cause.", "cause", "overflow", "watch_limit", "read_error"),
		breachLookups: counterVec("breach_lookups_total", "Breach-corpus lookups by result.", "result",
			"ok", "error"),
		breachDuration: histogram("breach_lookup_duration_seconds", "How long breach lookups took.",
			latencyBuckets),
		breachCache: counterVec("breach_cache_lookups_total", "Breach ranges looked up in the cache, by result.",
			"result", "hit", "miss"),
		breachUpstream: counterVec("breach_upstream_errors_total", "Failures of breach sources, by source.",
			"source", "hibp", "corpus", "other"),
		audit: counterVec("audit_refusal_events_total",
			"Audit events of refused requests: written, dropped (queue full) or failed (write failed).",
			"result", "written", "dropped", "failed"),
		storeErrors: counterVec("store_errors_total",
			"Requests failed by a store or dependency: error (500) or unavailable (503).", "kind",
			"error", "unavailable"),
		unknownMeasures: counter("unknown_measurements_total", "Measurements of a kind this exporter does not know."),
	}
	if cfg.Sessions != nil || cfg.Alerts != nil {
		cs = append(cs, newGauges(ns, cfg))
	}
	for _, c := range cs {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Observe implements [security.Observer].
func (e *Exporter) Observe(m security.Measurement) {
	switch m.Kind {
	case security.KindLogin:
		e.logins.get(m.Result).Add(1)
	case security.KindLockout:
		e.lockouts.get(m.Result).Add(1)
	case security.KindAuthenticate:
		e.auth.get(m.Result).Observe(m.Duration.Seconds())
	case security.KindRequest:
		e.requests.get(m.Result).Observe(m.Duration.Seconds())
	case security.KindCSRFRefused:
		e.csrf.get(m.Result).Add(1)
	case security.KindSessionsTerminated:
		e.terminated.get(m.Result).Add(float64(m.N))
	case security.KindBlacklisted:
		e.blacklisted.Inc()
	case security.KindScan:
		e.scans.get(m.Result).Add(1)
		e.scanFiles.Add(float64(max(m.N, 0)))
		e.scanDuration.Observe(m.Duration.Seconds())
	case security.KindRealtimeRecheck:
		e.realtimeChecks.Inc()
	case security.KindRealtimeFallback:
		e.fallbacks.get(m.Result).Add(1)
	case security.KindBreachLookup:
		e.breachLookups.get(m.Result).Add(1)
		e.breachDuration.Observe(m.Duration.Seconds())
	case security.KindBreachCache:
		e.breachCache.get(m.Result).Add(1)
	case security.KindBreachUpstreamError:
		e.breachUpstream.get(m.Result).Add(1)
	case security.KindAuditEvents:
		e.audit.get(m.Result).Add(float64(max(m.N, 0)))
	case security.KindStoreError:
		e.storeErrors.get(m.Result).Add(1)
	default:
		e.unknownMeasures.Inc()
	}
}

// gauges reads live sessions and open alerts at scrape time, at most once
// per TTL.
type gauges struct {
	cfg        Config
	live, open *prometheus.Desc
	errors     prometheus.Counter

	mu      sync.Mutex
	readAt  time.Time
	metrics []prometheus.Metric
}

// severities are the labels of the open-alerts gauge.
var severities = []integrity.Severity{integrity.SeverityCritical, integrity.SeverityHigh,
	integrity.SeverityMedium, integrity.SeverityLow}

func newGauges(ns string, cfg Config) *gauges {
	if cfg.GaugeTTL <= 0 {
		cfg.GaugeTTL = 10 * time.Second
	}
	if cfg.GaugeTimeout <= 0 {
		cfg.GaugeTimeout = 2 * time.Second
	}
	return &gauges{cfg: cfg,
		live: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "sessions_live"),
			"Live sessions (web and mobile), read from the store.", nil, nil),
		open: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "alerts_open"),
			"Open (new) integrity alerts by severity, read from the store.", []string{"severity"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "gauge_errors_total",
			Help: "Failed reads of the store-backed gauges."}),
	}
}

// Describe implements prometheus.Collector.
func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.live
	ch <- g.open
	g.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	now := time.Now()
	if g.metrics == nil || now.Sub(g.readAt) >= g.cfg.GaugeTTL {
		g.metrics, g.readAt = g.read(), now
	}
	ms := g.metrics
	g.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
	ch <- g.errors
}

// read queries the stores once.
func (g *gauges) read() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.GaugeTimeout)
	defer cancel()
	ms := []prometheus.Metric{}
	if g.cfg.Sessions != nil {
		_, n, err := g.cfg.Sessions.ListSessions(ctx, session.ListQuery{Now: security.Now(g.cfg.Clock)})
		if err != nil {
			g.errors.Inc()
		} else {
			ms = append(ms, prometheus.MustNewConstMetric(g.live, prometheus.GaugeValue, float64(n)))
		}
	}
	if g.cfg.Alerts != nil {
		open := integrity.StatusNew
		var bySeverity []prometheus.Metric
		for _, s := range severities {
			_, n, err := g.cfg.Alerts.ListAlerts(ctx, integrity.AlertQuery{Status: &open, Severity: s})
			if err != nil {
				g.errors.Inc()
				bySeverity = nil
				break
			}
			bySeverity = append(bySeverity,
				prometheus.MustNewConstMetric(g.open, prometheus.GaugeValue, float64(n), string(s)))
		}
		ms = append(ms, bySeverity...)
	}
	return ms
}
