// Package s3test runs a real S3 server (gofakes3 with its in-memory backend) on a loopback port
// for tests, and points the AWS environment variables at it.
package s3test

import (
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Bucket is the bucket Start creates.
const Bucket = "facestream-test"

// Secret is the secret access key Start sets; no message or log line may contain it.
const Secret = "s3test-secret-Zq8x1W"

// Start serves an empty bucket until the test ends and sets AWS_ENDPOINT_URL and the credentials
// for it with t.Setenv (so the test must not be parallel); subprocesses inherit them.
func Start(t testing.TB) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(Bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "s3test-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", Secret)
	t.Setenv("AWS_REGION", "us-east-1")
}
