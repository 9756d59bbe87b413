package arrowio

import (
	"strings"
	"testing"
)

func TestCheckLocal(t *testing.T) {
	for _, tc := range []struct {
		location, scheme string
	}{
		{"ds", ""}, {"/data/eq", ""}, {"./s3:bucket", ""}, {"a/b://c", ""}, {"", ""},
		{"s3://bucket/ds", "s3://"}, {"gs://b/x", "gs://"}, {"http://host/ds", "http://"}, {"S3+x.y-z://b", "S3+x.y-z://"},
	} {
		err := CheckLocal(tc.location)
		if (err != nil) != (tc.scheme != "") || (err != nil && !strings.Contains(err.Error(), tc.scheme+" locations are not supported")) {
			t.Errorf("CheckLocal(%q) = %v, want a refusal naming %q: %v", tc.location, err, tc.scheme, tc.scheme != "")
		}
	}
	if _, err := Open("s3://bucket/ds"); err == nil {
		t.Error("Open of an s3:// location succeeded")
	}
	if _, err := Create("s3://bucket/ds", WriterOptions{Kind: KindRaw}); err == nil {
		t.Error("Create of an s3:// location succeeded")
	}
}
