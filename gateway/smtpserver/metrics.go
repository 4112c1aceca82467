package smtpserver

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the SMTP servers' Prometheus metrics, shared by every listener and labelled
// with the listener's name. A nil *Metrics counts nothing.
type Metrics struct {
	sessions  *prometheus.CounterVec
	replies   *prometheus.CounterVec
	rejects   *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	authFails *prometheus.CounterVec
}

// NewMetrics makes the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	lbl := []string{"listener"}
	m := &Metrics{
		sessions:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sealgate_smtp_sessions_total", Help: "SMTP sessions opened."}, lbl),
		replies:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sealgate_smtp_data_replies_total", Help: "Replies to DATA/BDAT by code."}, []string{"listener", "code"}),
		rejects:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sealgate_smtp_rejects_total", Help: "Envelope and size rejections by code."}, []string{"listener", "code"}),
		bytes:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sealgate_smtp_accepted_bytes_total", Help: "Bytes of accepted messages."}, lbl),
		latency:   prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sealgate_smtp_transaction_seconds", Help: "MAIL to final reply.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, lbl),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sealgate_smtp_auth_failures_total", Help: "Failed SMTP AUTH attempts."}, lbl),
	}
	reg.MustRegister(m.sessions, m.replies, m.rejects, m.bytes, m.latency, m.authFails)
	return m
}

// listenerMetrics are Metrics bound to one listener's label.
type listenerMetrics struct {
	m        *Metrics
	listener string
}

// bind binds m to the listener called name; a nil m counts into metrics that nobody reads,
// so that counting needs no test for nil.
func (m *Metrics) bind(name string) listenerMetrics {
	if m == nil {
		m = NewMetrics(prometheus.NewRegistry())
	}
	return listenerMetrics{m, name}
}

func (l listenerMetrics) session() { l.m.sessions.WithLabelValues(l.listener).Inc() }

func (l listenerMetrics) data(code int, size int64, d time.Duration) {
	l.m.replies.WithLabelValues(l.listener, strconv.Itoa(code)).Inc()
	if code == 250 {
		l.m.bytes.WithLabelValues(l.listener).Add(float64(size))
	}
	l.m.latency.WithLabelValues(l.listener).Observe(d.Seconds())
}

func (l listenerMetrics) rejected(code string) { l.m.rejects.WithLabelValues(l.listener, code).Inc() }

func (l listenerMetrics) authFailed() { l.m.authFails.WithLabelValues(l.listener).Inc() }
