package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const badToken = "reliability-secret"

// query is one malformed request and the statuses PROTOCOL.md allows for it.
type query struct {
	method, path, raw string
	token             string
	header            http.Header
	want              []int
}

// badQueries lists the attacks: every stream parameter with junk values, unknown parameters,
// rank >= world, overlong queries and headers, other paths and methods, missing and wrong tokens.
func badQueries() []query {
	var qs []query
	valid := map[string]string{"rank": "0", "world": "1", "batch": "32", "epoch": "0", "start": "0", "seed": "0"}
	junk := []string{"", "abc", "-1", "1.5", "0x10", "1e3", " 1", "99999999999999999999999", "-99999999999999999999", "%00", "２"}
	with := func(name, value string) string {
		q := url.Values{}
		for k, v := range valid {
			q.Set(k, v)
		}
		q.Set(name, value)
		return q.Encode()
	}
	for _, path := range []string{"/v1/stream", "/v1/info"} {
		for _, name := range []string{"rank", "world", "batch", "epoch", "start", "seed", "epochs", "pad", "p", "k", "epoch_len"} {
			for _, v := range junk {
				if name == "pad" && v == "" {
					continue // an empty pad= means false, like an absent one (params.go)
				}
				qs = append(qs, query{method: "GET", path: path, raw: with(name, v), want: []int{400}})
			}
		}
		for _, name := range []string{"mode", "profile", "format"} {
			for _, v := range []string{"nope", "../../etc/passwd", strings.Repeat("x", 500), "%00"} {
				qs = append(qs, query{method: "GET", path: path, raw: with(name, v), want: []int{400}})
			}
		}
		for _, name := range []string{"bogus", "Rank", "rank[]", ""} {
			qs = append(qs, query{method: "GET", path: path, raw: with(name, "1"), want: []int{400}})
		}
	}
	for _, c := range []struct{ name, value string }{
		{"rank", "1"}, {"rank", "5"}, {"world", "0"}, {"batch", "0"}, {"batch", "4097"}, {"start", "7"},
		{"start", "99999968"}, {"epoch", "2147483648"}, {"mode", "pk&p=3"}, {"rank", "1&rank=0"},
	} {
		qs = append(qs, query{method: "GET", path: "/v1/stream", raw: with(c.name, c.value), want: []int{400}})
	}
	long := with("seed", "0") + "&" + strings.Repeat("a", 2000)
	qs = append(qs,
		query{method: "GET", path: "/v1/stream", raw: long, want: []int{414, 431}},
		query{method: "GET", path: "/v1/info", raw: long, want: []int{414, 431}},
		query{method: "GET", path: "/v1/stream", raw: with("seed", "0"), header: http.Header{"X-Pad": {strings.Repeat("b", 9000)}}, want: []int{431}},
		query{method: "GET", path: "/v1/nope", want: []int{404}},
		query{method: "GET", path: "/v2/stream", want: []int{404}},
		query{method: "GET", path: "/", want: []int{404}},
	)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		for _, p := range []string{"/v1/stream", "/v1/info", "/metrics"} {
			qs = append(qs, query{method: m, path: p, raw: with("seed", "0"), want: []int{405}})
		}
	}
	for _, t := range []string{"-", "wrong", badToken + "x", strings.Repeat("t", 4000)} {
		for _, p := range []string{"/v1/stream", "/v1/info", "/metrics"} {
			qs = append(qs, query{method: "GET", path: p, raw: with("seed", "0"), token: t, want: []int{401}})
		}
	}
	for i := range qs {
		if qs[i].token == "" {
			qs[i].token = badToken
		} else if qs[i].token == "-" {
			qs[i].token = "" // no Authorization header at all
		}
	}
	return qs
}

// checkBadQueries sends every bad query (8 at a time) to a server with --token and a small
// --max-memory, and checks each gets an allowed 4xx quickly; then a batch too big for the memory
// limit must get 413.
func checkBadQueries(ctx context.Context, e *env) (string, map[string]any, bool, error) {
	srv, err := e.startServer(ctx, e.raw, "--token", badToken, "--max-memory", "64", "--max-pixels", "1048576")
	if err != nil {
		return "", nil, false, err
	}
	defer srv.stop()
	qs := badQueries()
	codes := map[int]int{}
	var mu sync.Mutex
	var wrong []string
	var slowest atomic.Int64
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(qs) {
					return
				}
				q := qs[i]
				t0 := time.Now()
				code, body, err := httpDo(q.method, srv.url()+q.path+"?"+q.raw, q.token, q.header, 5*time.Second)
				if d := time.Since(t0).Milliseconds(); d > slowest.Load() {
					slowest.Store(d)
				}
				mu.Lock()
				codes[code]++
				if err != nil || !slices.Contains(q.want, code) {
					wrong = append(wrong, fmt.Sprintf("%s %s?%.60s -> %d %v %.80s (want %v)", q.method, q.path, q.raw, code, err, body, q.want))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	code, body, err := httpGet(srv.url()+"/v1/stream?rank=0&world=1&batch=4096", badToken, 5*time.Second)
	got413 := err == nil && code == 413
	if !got413 {
		wrong = append(wrong, fmt.Sprintf("batch 4096 over --max-memory 64 -> %d %v %.80s (want 413)", code, err, body))
	}
	fives := 0
	for c, n := range codes {
		if c >= 500 || c == 0 {
			fives += n
		}
	}
	figures := map[string]any{"queries": len(qs), "codes": codes, "wrong": len(wrong), "slowest_ms": slowest.Load(), "oversize_413": got413}
	summary := fmt.Sprintf("%d bad queries: %s; %d wrong, %d 5xx/no answer, slowest %d ms; batch over --max-memory -> %d",
		len(qs), formatCodes(codes), len(wrong), fives, slowest.Load(), code)
	if len(wrong) > 0 {
		summary += "; first wrong: " + wrong[0]
	}
	return summary, figures, len(wrong) == 0, nil
}

func formatCodes(codes map[int]int) string {
	keys := make([]int, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d×%d", codes[k], k)
	}
	return strings.Join(parts, " ")
}
