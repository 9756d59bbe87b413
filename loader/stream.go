package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facestream/facestream/augment"
	"github.com/facestream/facestream/sampler"
)

// errShutdown ends streams when the server stops; the client resumes elsewhere from its last pos.
var errShutdown = errors.New("server shutting down")

// errReadUnsupported: fasthttp writes a stream through WriteTo; nothing else reads it.
var errReadUnsupported = errors.New("a stream body is written with WriteTo, not read")

// stream is the body of one /v1/stream response. fasthttp hands WriteTo the connection's chunked
// writer, so batches go to the socket from the connection's own goroutine, in chunks, with no
// intermediate pipe; a write blocks while the client is not reading, which holds the stream's
// slots and so stops its workers: backpressure. Close frees everything, whether or not WriteTo ran.
type stream struct {
	srv     *Server
	q       *streamQuery
	profile *augment.Profile
	conn    net.Conn // closed to unblock a write when shutdown's grace runs out, or to evict the stream

	blocked atomic.Int64 // when the write to the client in progress began (unix ns); 0: not writing
	evicted atomic.Bool  // closed to make room for a new stream

	work workQueue // the pool's: slots waiting for its workers

	inflight  sync.WaitGroup // images being made by workers
	slots     []*slot
	closeOnce sync.Once

	// The position the next submitted slot starts at.
	plan    *sampler.RankPlan
	epoch   int
	nextPos int
}

// Read implements io.Reader, which fasthttp's body stream type requires; see errReadUnsupported.
func (s *stream) Read([]byte) (int, error) { return 0, errReadUnsupported }

// SupportsBodyWriteTo tells fasthttp to call WriteTo with the connection's chunked writer.
func (s *stream) SupportsBodyWriteTo() bool { return true }

// WriteTo makes and sends every batch in plan order, then the end marker.
func (s *stream) WriteTo(w io.Writer) (int64, error) {
	cw := newChunkWriter(w)
	cw.conn, cw.stall, cw.blocked = s.conn, s.srv.stallTimeout, &s.blocked
	err := s.send(cw)
	// The connection may serve more requests: they are not held to this stream's deadline.
	if derr := s.conn.SetWriteDeadline(time.Time{}); err == nil && derr != nil {
		err = &connError{derr}
	}
	if err != nil {
		s.srv.metrics.streamErrors.Inc()
		level := slog.LevelError // the server could not make the stream
		var gone *connError
		if errors.As(err, &gone) || errors.Is(err, errShutdown) {
			level = slog.LevelInfo // the client went away, or the server is stopping
		}
		msg := "stream ended early"
		switch {
		case s.evicted.Load():
			msg = "stream ended: evicted, stalled, for a new stream at the server's limit; its client resumes where it was"
		case errors.Is(err, errStalled):
			s.srv.metrics.stalledClosed.Inc()
			msg = "stream closed: its client read nothing for --stall-timeout; it resumes where it was when it reads again"
		}
		s.srv.log.Log(context.Background(), level, msg, "remote", s.conn.RemoteAddr().String(),
			"rank", s.q.rank, "world", s.q.world, "epoch", s.epoch, "err", err)
	}
	return cw.written, err
}

// stalledFor is how long the stream has been blocked in one write to its client (0: it is not).
func (s *stream) stalledFor(now time.Time) time.Duration {
	if since := s.blocked.Load(); since != 0 {
		return now.Sub(time.Unix(0, since))
	}
	return 0
}

func (s *stream) send(cw *chunkWriter) error {
	q, srv := s.q, s.srv
	shape := streamShape{height: srv.height, width: srv.width, channels: 3, batch: q.batch}
	var enc encoder
	if q.format == FormatNPY {
		enc = newNPYEncoder(cw, shape)
	} else {
		enc = newArrowEncoder(cw, shape, streamMeta{
			rank: q.rank, world: q.world, epoch: q.epoch, batches: s.plan.Batches(), start: q.start,
			epochs: q.epochs, mode: string(q.mode), profile: s.profile.Name, seed: q.seed,
		})
	}
	fifo := make([]*slot, 0, len(s.slots))
	for _, b := range s.slots {
		more, err := s.fill(b)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		srv.pool.submit(s, b)
		fifo = append(fifo, b)
	}
	var batches, images, counted int64
	for len(fifo) > 0 {
		b := fifo[0]
		select {
		case <-b.done:
		case <-srv.quit:
			return errShutdown
		}
		if err := b.err.Load(); err != nil {
			return *err
		}
		// Encoding hands the pixels to the connection as it goes: split the time by what the
		// chunk writer spent in the connection's writes.
		start, waited := time.Now(), cw.waited
		if err := enc.encode(&b.batchData); err != nil {
			return err
		}
		if err := cw.Flush(); err != nil {
			return fmt.Errorf("send batch: %w", err)
		}
		write := cw.waited - waited
		srv.metrics.write.Update(write.Seconds())
		srv.metrics.encode.Update((time.Since(start) - write).Seconds())
		batches++
		images += int64(b.count())
		srv.metrics.batchesSent.Inc()
		srv.metrics.imagesSent.Add(b.count())
		srv.metrics.bytesSent.Add(int(cw.written - counted))
		counted = cw.written

		fifo = append(fifo[:0], fifo[1:]...)
		more, err := s.fill(b)
		if err != nil {
			return err
		}
		if more {
			srv.pool.submit(s, b)
			fifo = append(fifo, b)
		}
	}
	if err := enc.finish(batches, images); err != nil {
		return err
	}
	if err := cw.Flush(); err != nil {
		return fmt.Errorf("send end of stream: %w", err)
	}
	srv.metrics.bytesSent.Add(int(cw.written - counted))
	return nil
}

// fill sets the rows, labels, ids and positions of the next batch into b. It reports false after
// the last batch of the last epoch.
func (s *stream) fill(b *slot) (bool, error) {
	q, srv := s.q, s.srv
	if s.nextPos == s.plan.Len() {
		next := s.epoch + 1
		if q.epochs > 0 && next >= q.epoch+q.epochs {
			return false, nil
		}
		if next > maxEpoch { // an endless stream ends with the last epoch number
			return false, nil
		}
		plan, err := srv.plans.rank(q.planQuery, next)
		if err != nil {
			return false, fmt.Errorf("plan epoch %d: %w", next, err)
		}
		s.plan, s.epoch, s.nextPos = plan, next, 0
	}
	// Halfway through an epoch that another follows, have its plan built ahead (once: the
	// batch that crosses the middle).
	if half := s.plan.Len() / 2; s.nextPos <= half && half < s.nextPos+len(b.rows) &&
		s.epoch < maxEpoch && (q.epochs == 0 || s.epoch+1 < q.epoch+q.epochs) {
		srv.plans.prefetch(keyOf(q.planQuery, s.epoch+1))
	}
	s.plan.Fill(s.nextPos, b.rows)
	b.epoch = s.epoch
	for i, row := range b.rows {
		b.labels[i] = srv.ds.Label(int(row))
		b.ids[i] = srv.ds.ID(int(row))
		b.pos[i] = int64(s.nextPos + i)
		b.epochs[i] = int32(s.epoch)
	}
	s.nextPos += len(b.rows)
	return true, nil
}

// produce decodes and augments image i of b. A photo that will not decode is replaced by the next
// photo of the same identity (rows in dataset order, wrapping), which the id column then names.
func (s *stream) produce(ws *workerSet, b *slot, i int) {
	srv := s.srv
	size := srv.imageBytes()
	job := imageJob{ws: ws, profile: s.profile, seed: s.q.seed, epoch: b.epoch, pos: b.pos[i], dst: b.images[i*size : (i+1)*size]}
	row := int(b.rows[i])
	start := time.Now()
	if err := job.make(srv.ds.Image(row)); err != nil {
		row, err = srv.replace(&job, row, err)
		if err != nil {
			b.fail(err)
		} else {
			b.ids[i] = srv.ds.ID(row)
		}
	}
	srv.metrics.decodeAugment.UpdateDuration(start)
}

// Close withdraws the stream's work, waits for its workers and returns its buffers. fasthttp calls
// it once the response ends, whether the client read it all, went away or the server stopped.
func (s *stream) Close() error {
	s.closeOnce.Do(func() {
		s.srv.pool.cancel(s)
		for _, b := range s.slots {
			s.srv.slots.put(b)
		}
		s.slots = nil
		s.srv.release(s)
	})
	return nil
}

// classRows lists the rows of every identity in ascending order, for replacing a bad photo.
type classRows struct {
	start []int32 // identity c's rows are rows[start[c]:start[c+1]]
	rows  []int32
}

func newClassRows(labels []int32, classes int) classRows {
	start := make([]int32, classes+1)
	for _, l := range labels {
		start[l+1]++
	}
	for c := range classes {
		start[c+1] += start[c]
	}
	rows := make([]int32, len(labels))
	next := append([]int32(nil), start[:classes]...)
	for row, l := range labels {
		rows[next[l]] = int32(row)
		next[l]++
	}
	return classRows{start: start, rows: rows}
}

// after returns the rows of row's identity that follow it, wrapping around, without row itself.
func (c classRows) after(row int, label int32) []int32 {
	rows := c.rows[c.start[label]:c.start[label+1]]
	i := sort.Search(len(rows), func(i int) bool { return rows[i] > int32(row) })
	out := make([]int32, 0, len(rows)-1)
	out = append(out, rows[i:]...)
	for _, r := range rows[:i] {
		if int(r) != row {
			out = append(out, r)
		}
	}
	return out
}
