package loader

import (
	"io"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// serverMetrics are the server's counters, in a set the server owns (no process-wide registry).
type serverMetrics struct {
	set           *metrics.Set
	streamsTotal  *metrics.Counter
	streamErrors  *metrics.Counter
	batchesSent   *metrics.Counter
	imagesSent    *metrics.Counter
	bytesSent     *metrics.Counter
	decodeErrors  *metrics.Counter
	evicted       *metrics.Counter // stalled streams closed to admit a new one at a limit
	stalledClosed *metrics.Counter // streams closed after --stall-timeout without a read
	idleTrims     *metrics.Counter // batch buffers handed back to the OS once no stream was open
	rejected      func(code int) *metrics.Counter
	decodeAugment *metrics.PrometheusHistogram
	encode        *metrics.PrometheusHistogram
	write         *metrics.PrometheusHistogram
	plan          *metrics.PrometheusHistogram
}

func newServerMetrics(streamsOpen, bufferBytes func() float64, workers int) *serverMetrics {
	set := metrics.NewSet()
	// The buckets span a single 112×112 decode (~0.1 ms) to a large batch written to a slow reader.
	buckets := []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	stage := func(name string) *metrics.PrometheusHistogram {
		return set.NewPrometheusHistogramExt(`facestream_stage_seconds{stage="`+name+`"}`, buckets)
	}
	set.NewGauge("facestream_streams_open", streamsOpen)
	set.NewGauge("facestream_stream_buffer_bytes", bufferBytes) // reserved by open streams, under --max-memory
	set.NewGauge("facestream_workers", func() float64 { return float64(workers) })
	return &serverMetrics{
		set:           set,
		streamsTotal:  set.NewCounter("facestream_streams_total"),
		streamErrors:  set.NewCounter("facestream_stream_errors_total"),
		batchesSent:   set.NewCounter("facestream_batches_sent_total"),
		imagesSent:    set.NewCounter("facestream_images_sent_total"),
		bytesSent:     set.NewCounter("facestream_bytes_sent_total"),
		decodeErrors:  set.NewCounter("facestream_decode_errors_total"),
		evicted:       set.NewCounter("facestream_streams_evicted_total"),
		stalledClosed: set.NewCounter("facestream_streams_stalled_closed_total"),
		idleTrims:     set.NewCounter("facestream_idle_memory_trims_total"),
		rejected: func(code int) *metrics.Counter {
			return set.GetOrCreateCounter(`facestream_requests_rejected_total{code="` + strconv.Itoa(code) + `"}`)
		},
		decodeAugment: stage("decode_augment"),
		encode:        stage("encode"),
		write:         stage("write"),
		plan:          stage("plan"),
	}
}

func (m *serverMetrics) observePlan(d time.Duration) { m.plan.Update(d.Seconds()) }

// writePrometheus writes the server's metrics and the process's (CPU seconds, memory, goroutines).
func (m *serverMetrics) writePrometheus(w io.Writer) {
	m.set.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
}
