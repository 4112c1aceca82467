package queue

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	deliveries *prometheus.CounterVec
	latency    prometheus.Histogram
	session    prometheus.Histogram
	scans      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, store Store) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sealgate_queue_deliveries_total",
			Help: "Recipient outcomes of outbound delivery attempts, by result (delivered, deferred, failed).",
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sealgate_queue_delivery_latency_seconds",
			Help:    "Time from spooling to delivery of each delivered recipient.",
			Buckets: []float64{0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600},
		}),
		session: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sealgate_queue_session_seconds",
			Help:    "Duration of one delivery to one domain: lookup, connection and SMTP session.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 9),
		}),
		scans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sealgate_queue_scans_total",
			Help: "Times the runner looked for due queue entries.",
		}),
	}
	length := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sealgate_queue_messages",
		Help: "Entries in the outbound queue (held ones included).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := store.QueueLen(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	for _, d := range []string{"delivered", "deferred", "failed"} {
		m.deliveries.WithLabelValues(d)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.deliveries, m.latency, m.session, m.scans, length} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
