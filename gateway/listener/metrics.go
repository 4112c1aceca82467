package listener

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the listeners' Prometheus metrics, shared by every listener of the gateway and
// labelled with the listener's name. A nil *Metrics counts nothing.
type Metrics struct {
	panics       *prometheus.CounterVec
	refused      *prometheus.CounterVec
	acceptErrors *prometheus.CounterVec
}

// NewMetrics makes the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	lbl := []string{"listener"}
	m := &Metrics{
		panics:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sealgate_session_panics_total", Help: "Sessions ended by an internal error (a recovered panic)."}, lbl),
		refused:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sealgate_connections_refused_total", Help: "Connections refused by the per-address limit."}, lbl),
		acceptErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sealgate_accept_errors_total", Help: "Failed accepts that were retried (out of file descriptors, memory)."}, lbl),
	}
	reg.MustRegister(m.panics, m.refused, m.acceptErrors)
	return m
}

// listenerMetrics are the counters of one listener.
type listenerMetrics struct {
	panics, refused, acceptErrors prometheus.Counter
}

// bind returns the counters of the listener called name; for a nil m, counters that nobody
// reads, so that counting needs no test for nil.
func (m *Metrics) bind(name string) listenerMetrics {
	if m == nil {
		m = NewMetrics(prometheus.NewRegistry())
	}
	return listenerMetrics{m.panics.WithLabelValues(name), m.refused.WithLabelValues(name), m.acceptErrors.WithLabelValues(name)}
}

// Panics returns the panic counter of a listener (for tests and dashboards).
func (m *Metrics) Panics(listener string) prometheus.Counter {
	return m.panics.WithLabelValues(listener)
}
