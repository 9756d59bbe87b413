package embed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/facestream/facestream/augment"
	"github.com/facestream/facestream/internal/realdata"
)

// openFixture opens a testdata model, skipping the test when the ONNX Runtime library is absent
// (`make setup` fetches it; CI runs it first, so there the tests run).
func openFixture(t testing.TB, model string, opts Options) *Embedder {
	t.Helper()
	requireLibrary(t)
	opts.Model = filepath.Join("testdata", model)
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func requireLibrary(t testing.TB) {
	t.Helper()
	if _, err := LibraryPath(""); err != nil {
		t.Skipf("ONNX Runtime library absent, skipping: %v", err)
	}
}

type expectation struct {
	Images     []string    `json:"images"`
	NCHW128    [][]float32 `json:"nchw128"`
	NCHW128BGR [][]float32 `json:"nchw128_bgr"`
	NHWC512    [][]float32 `json:"nhwc512"`
}

// fixtureImages returns the PNG fixtures and the embeddings PyTorch computed for them (make_models.py).
func fixtureImages(t testing.TB) ([][]byte, expectation) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want expectation
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	images := make([][]byte, len(want.Images))
	for i, name := range want.Images {
		if images[i], err = os.ReadFile(filepath.Join("testdata", name)); err != nil {
			t.Fatal(err)
		}
	}
	return images, want
}

func TestMatchesPyTorch(t *testing.T) {
	images, want := fixtureImages(t)
	for _, tc := range []struct {
		name  string
		model string
		opts  Options
		want  [][]float32
	}{
		{"NCHW", "nchw128.onnx", Options{}, want.NCHW128},
		{"NCHW BGR", "nchw128.onnx", Options{BGR: true}, want.NCHW128BGR},
		// The same weights behind an NHWC input must give the same embeddings.
		{"NHWC same weights", "nhwc128.onnx", Options{}, want.NCHW128},
		// Fixed batch of 4 over 5 images: the last batch is padded.
		{"NHWC 512-d fixed batch", "nhwc512-batch4.onnx", Options{}, want.NHWC512},
		// Batches of 2 over 5 images with 3 workers: a short last batch and batches that may fill out of order.
		{"short batches, several workers", "nchw128.onnx", Options{Batch: 2, Workers: 3}, want.NCHW128},
		// The same weights with the output declared [-1,-1]: the width comes from a probe run.
		{"dynamic output width", "nchw128-dynamic-width.onnx", Options{}, want.NCHW128},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openFixture(t, tc.model, tc.opts)
			if h, w := e.InputSize(); h != 40 || w != 32 {
				t.Fatalf("input size %dx%d, want 40x32", h, w)
			}
			if e.Dim() != len(tc.want[0]) {
				t.Fatalf("Dim %d, want %d", e.Dim(), len(tc.want[0]))
			}
			out := make([]float32, len(images)*e.Dim())
			var progressed int
			err := e.Embed(len(images), func(i int) []byte { return images[i] }, out, func(done int) { progressed = done })
			if err != nil {
				t.Fatal(err)
			}
			if progressed != len(images) {
				t.Errorf("progress ended at %d, want %d", progressed, len(images))
			}
			for i := range images {
				row := out[i*e.Dim() : (i+1)*e.Dim()]
				var norm, worst float64
				for k, v := range row {
					norm += float64(v) * float64(v)
					worst = max(worst, math.Abs(float64(v-tc.want[i][k])))
				}
				if math.Abs(math.Sqrt(norm)-1) > 1e-5 {
					t.Errorf("image %d: norm %.7f, want 1", i, math.Sqrt(norm))
				}
				if worst > 1e-4 {
					t.Errorf("image %d: differs from PyTorch by up to %.2g", i, worst)
				}
			}
		})
	}
}

func TestRefusesModelsThatCannotTakeImages(t *testing.T) {
	requireLibrary(t)
	for model, want := range map[string]string{
		"bad-gray.onnx":         `input "input" has shape [-1 1 40 32]: no axis of 3 channels`,
		"bad-rank.onnx":         `input "input" has shape [-1 3840] (rank 2)`,
		"bad-dynamic-size.onnx": `input "input" has shape [-1 3 -1 -1]: height and width are not fixed`,
		"bad-feature-map.onnx":  `output "embedding" has shape [-1 8 5 4] (rank 4): want [N,D]`,
	} {
		t.Run(model, func(t *testing.T) {
			e, err := Open(Options{Model: filepath.Join("testdata", model)})
			if err == nil {
				e.Close()
				t.Fatal("opened a model that cannot take RGB images")
			}
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), model) {
				t.Errorf("error %q, want the model's name and %q", err, want)
			}
		})
	}
}

func TestMissingOrWrongLibrary(t *testing.T) {
	notALibrary := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.WriteFile(notALibrary, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ library, want string }{
		{"/nonexistent/libonnxruntime.so.1.24.3", "no such file"},
		{notALibrary, "cannot load the ONNX Runtime library"},
	} {
		_, err := Open(Options{Model: filepath.Join("testdata", "nchw128.onnx"), Library: tc.library})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "make setup") {
			t.Errorf("Open with library %s: %v, want an error with %q that says how to get the library", tc.library, err, tc.want)
		}
	}
	if _, err := Open(Options{Model: "testdata/missing.onnx"}); err == nil || !strings.Contains(err.Error(), "missing.onnx") {
		t.Errorf("Open of a missing model: %v", err)
	}
}

func TestLibraryPathPrecedence(t *testing.T) {
	dir := t.TempDir()
	fromFlag, fromEnv := filepath.Join(dir, "flag.so"), filepath.Join(dir, "env.so")
	for _, p := range []string{fromFlag, fromEnv} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(LibraryEnv, fromEnv)
	if got, err := LibraryPath(fromFlag); err != nil || got != fromFlag {
		t.Errorf("with a flag: %q, %v; want %q", got, err, fromFlag)
	}
	if got, err := LibraryPath(""); err != nil || got != fromEnv {
		t.Errorf("with the environment variable: %q, %v; want %q", got, err, fromEnv)
	}
	t.Setenv(LibraryEnv, filepath.Join(dir, "gone.so"))
	if _, err := LibraryPath(""); err == nil || !strings.Contains(err.Error(), "$"+LibraryEnv) {
		t.Errorf("a missing library named by the environment: %v, want an error naming the variable", err)
	}
	t.Setenv(LibraryEnv, "")
	t.Chdir(dir) // no .cache/onnxruntime above a temporary folder
	if _, err := LibraryPath(""); err == nil || !strings.Contains(err.Error(), "make setup") {
		t.Errorf("no library anywhere: %v, want an error that says how to get it", err)
	}
}

func TestEmbedErrors(t *testing.T) {
	images, _ := fixtureImages(t)
	e := openFixture(t, "nchw128.onnx", Options{Batch: 2, Workers: 2})
	defer goleak.VerifyNone(t) // a failed call leaves no worker behind
	out := make([]float32, len(images)*e.Dim())
	err := e.Embed(len(images), func(i int) []byte {
		if i == 3 {
			return []byte("not an image")
		}
		return images[i]
	}, out, nil)
	if err == nil || !strings.Contains(err.Error(), "image 3") {
		t.Errorf("a broken image: %v, want an error naming image 3", err)
	}
	if err := e.Embed(len(images), func(i int) []byte { return images[i] }, out[:10], nil); err == nil {
		t.Error("embedded into too small an output")
	}
	// After a failed call the embedder still works.
	if err := e.Embed(len(images), func(i int) []byte { return images[i] }, out, nil); err != nil {
		t.Errorf("after a failed call: %v", err)
	}
}

// TestEmbedOrSkip: photos that do not decode get zero rows and are listed; the others embed as
// they do alone.
func TestEmbedOrSkip(t *testing.T) {
	images, _ := fixtureImages(t)
	e := openFixture(t, "nchw128.onnx", Options{Batch: 2, Workers: 2})
	want := make([]float32, len(images)*e.Dim())
	if err := e.Embed(len(images), func(i int) []byte { return images[i] }, want, nil); err != nil {
		t.Fatal(err)
	}
	broken := map[int]bool{1: true, 4: true}
	got := make([]float32, len(images)*e.Dim())
	skipped, err := e.EmbedOrSkip(len(images), func(i int) []byte {
		if broken[i] {
			return images[i][:len(images[i])/3] // a truncated photo: its header still reads
		}
		return images[i]
	}, got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 2 || skipped[0].Index != 1 || skipped[1].Index != 4 || skipped[0].Err == nil {
		t.Fatalf("skipped %+v, want photos 1 and 4 with their errors", skipped)
	}
	d := e.Dim()
	for i := range images {
		row, ref := got[i*d:(i+1)*d], want[i*d:(i+1)*d]
		for k := range row {
			if broken[i] && row[k] != 0 || !broken[i] && math.Abs(float64(row[k]-ref[k])) > 1e-5 {
				t.Fatalf("photo %d (broken %v): value %d is %v, want %v", i, broken[i], k, row[k], ref[k])
			}
		}
	}
}

func TestCloseSharesTheEnvironment(t *testing.T) {
	images, want := fixtureImages(t)
	embedOne := func(e *Embedder) error {
		out := make([]float32, e.Dim())
		return e.Embed(1, func(int) []byte { return images[0] }, out, nil)
	}
	a := openFixture(t, "nchw128.onnx", Options{})
	b := openFixture(t, "nhwc128.onnx", Options{})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := embedOne(a); err == nil {
		t.Error("a closed embedder embedded")
	}
	if err := embedOne(b); err != nil {
		t.Fatalf("closing one embedder broke another: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// The environment was released with the last embedder; a new one loads it again.
	c := openFixture(t, "nchw128.onnx", Options{})
	out := make([]float32, c.Dim())
	if err := c.Embed(1, func(int) []byte { return images[0] }, out, nil); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(out[0]-want.NCHW128[0][0])) > 1e-4 {
		t.Errorf("after reloading: %g, want %g", out[0], want.NCHW128[0][0])
	}
}

func TestFingerprint(t *testing.T) {
	e := openFixture(t, "nchw128.onnx", Options{})
	data, err := os.ReadFile(filepath.Join("testdata", "nchw128.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if e.Fingerprint() != hex.EncodeToString(sum[:]) {
		t.Errorf("Fingerprint %s, want %x", e.Fingerprint(), sum)
	}
}

// TestEmbedAllocatesNothingPerImage: a call allocates a fixed amount and each batch the four small
// slices onnxruntime_go's Run makes; decoding (TurboJPEG), preprocessing and normalising allocate
// nothing, which a batch of 8 would show as 8 or more per batch.
func TestEmbedAllocatesNothingPerImage(t *testing.T) {
	if augment.JPEGDecoder != "turbojpeg" {
		t.Skip("Go's JPEG decoder allocates per image; this build does not use TurboJPEG")
	}
	images, _ := fixtureImages(t)
	img, err := png.Decode(bytes.NewReader(images[0]))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	const batch = 8
	e := openFixture(t, "nchw128.onnx", Options{Batch: batch})
	out := make([]float32, 64*batch*e.Dim())
	allocs := func(n int) float64 {
		return testing.AllocsPerRun(3, func() {
			if err := e.Embed(n, func(int) []byte { return b.Bytes() }, out, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	few, many := allocs(2*batch), allocs(64*batch)
	if perBatch := (many - few) / 62; perBatch > 4 {
		t.Errorf("%.1f allocations per batch of %d images (%v for 2 batches, %v for 64)", perBatch, batch, few, many)
	}
}

// fixturePixels decodes the PNG fixtures with the standard library, as PyTorch saw them.
func fixturePixels(t *testing.T, images [][]byte) [][]byte {
	pixels := make([][]byte, len(images))
	for i, data := range images {
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				pixels[i] = append(pixels[i], byte(r>>8), byte(g>>8), byte(bl>>8))
			}
		}
	}
	return pixels
}

// TestDecoderKeepsPixels pins what TestMatchesPyTorch assumes of the image pipeline: the "none"
// profile hands an image already at the model's size through unchanged. If this fails, so does
// that test, and the cause is in package augment, not here.
func TestDecoderKeepsPixels(t *testing.T) {
	images, _ := fixtureImages(t)
	profile, err := augment.BuiltinProfile("none")
	if err != nil {
		t.Fatal(err)
	}
	w := augment.NewWorker(profile, 40, 32)
	got := make([]byte, 40*32*3)
	for i, want := range fixturePixels(t, images) {
		if err := w.Process(images[i], 0, 0, int64(i), got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("image %d: augment's none profile changed the pixels of an image at the output size", i)
		}
	}
}

func TestEmbedRGBMatchesPyTorch(t *testing.T) {
	images, want := fixtureImages(t)
	pixels := fixturePixels(t, images)
	e := openFixture(t, "nhwc128.onnx", Options{Batch: 3})
	out := make([]float32, len(images)*e.Dim())
	if err := e.EmbedRGB(len(images), func(i int) []byte { return pixels[i] }, out, nil); err != nil {
		t.Fatal(err)
	}
	for i := range images {
		for k, v := range out[i*e.Dim() : (i+1)*e.Dim()] {
			if math.Abs(float64(v-want.NCHW128[i][k])) > 1e-4 {
				t.Fatalf("image %d, dimension %d: %g, PyTorch %g", i, k, v, want.NCHW128[i][k])
			}
		}
	}
	err := e.EmbedRGB(2, func(i int) []byte { return pixels[i][:100] }, out, nil)
	if err == nil || !strings.Contains(err.Error(), "100 bytes of pixels, want 3840 (40x32 RGB)") {
		t.Errorf("pixels of the wrong size: %v", err)
	}
}

func TestPreprocessingOptions(t *testing.T) {
	requireLibrary(t)
	model := filepath.Join("testdata", "nchw128.onnx")
	for _, std := range [][3]float32{{0, 1, 1}, {1, float32(math.NaN()), 1}, {1, 1, float32(math.Inf(1))}} {
		if e, err := Open(Options{Model: model, Std: std}); err == nil || !strings.Contains(err.Error(), "std") {
			if e != nil {
				e.Close()
			}
			t.Errorf("std %v: %v, want a refusal", std, err)
		}
	}
	// A zero mean with a std is a real setting (x/255 models), not "unset".
	e := openFixture(t, "nchw128.onnx", Options{Std: [3]float32{255, 255, 255}})
	if e.lut[0][255] != 1 || e.lut[2][0] != 0 {
		t.Errorf("mean 0, std 255 maps 255 → %g and 0 → %g, want 1 and 0", e.lut[0][255], e.lut[2][0])
	}
	d := openFixture(t, "nchw128.onnx", Options{})
	if d.lut[1][0] != -1 || d.lut[1][255] != 1 {
		t.Errorf("default preprocessing maps 0 → %g and 255 → %g, want −1 and 1", d.lut[1][0], d.lut[1][255])
	}
}

func TestLibraryTooOld(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build the stand-in for an old ONNX Runtime")
	}
	old := filepath.Join(t.TempDir(), "libonnxruntime.so.1.23.2")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", old, filepath.Join("testdata", "old_ort.c")).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", old, err, out)
	}
	_, err = Open(Options{Model: filepath.Join("testdata", "nchw128.onnx"), Library: old})
	if err == nil || !strings.Contains(err.Error(), "older than 1.24") || !strings.Contains(err.Error(), "make setup") {
		t.Errorf("Open with ONNX Runtime 1.23: %v, want an error that says it is too old and how to get 1.24", err)
	}
}

// TestRealModel opens the team's real face model, whose output is declared [-1,-1], and checks
// that two photos of one person sit nearer each other than photos of two people.
func TestRealModel(t *testing.T) {
	requireLibrary(t)
	model, faces := realdata.Model(t), realdata.Faces(t)
	e, err := Open(Options{Model: model})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Dim() != 128 {
		t.Fatalf("learned width %d, want 128 (%s)", e.Dim(), e)
	}
	paths := []string{"George_W_Bush/George_W_Bush_0001.jpg", "George_W_Bush/George_W_Bush_0002.jpg",
		"Colin_Powell/Colin_Powell_0001.jpg", "Colin_Powell/Colin_Powell_0002.jpg"}
	images := make([][]byte, len(paths))
	for i, p := range paths {
		if images[i], err = os.ReadFile(filepath.Join(faces, p)); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]float32, len(images)*e.Dim())
	if err := e.Embed(len(images), func(i int) []byte { return images[i] }, out, nil); err != nil {
		t.Fatal(err)
	}
	cos := func(a, b int) float64 {
		var s float64
		for k := range e.Dim() {
			s += float64(out[a*e.Dim()+k]) * float64(out[b*e.Dim()+k])
		}
		return s
	}
	same, other := min(cos(0, 1), cos(2, 3)), max(cos(0, 2), cos(0, 3), cos(1, 2), cos(1, 3))
	t.Logf("same person: min cosine %.3f; two people: max %.3f", same, other)
	if same <= other {
		t.Errorf("photos of one person (min cosine %.3f) are not nearer than photos of two (max %.3f)", same, other)
	}
}
