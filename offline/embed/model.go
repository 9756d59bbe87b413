package embed

import (
	"fmt"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// layout is where the channel axis of the model's image input sits.
type layout int

const (
	nchw layout = iota // [N, 3, H, W]: PyTorch-born models
	nhwc               // [N, H, W, 3]: TensorFlow/Keras-born models
)

func (l layout) String() string {
	if l == nhwc {
		return "NHWC"
	}
	return "NCHW"
}

// signature is what the embedder needs to know about a model's input and output.
type signature struct {
	input, output string
	layout        layout
	batch         int // fixed batch size, or 0 when the batch axis is dynamic
	height, width int
	dim           int // embedding width D of the output [N,D]; 0 until a probe run learns a dynamic one
}

// Limits on what a model may declare, so that a corrupt or hostile file cannot make Open allocate
// without bound: face models take at most a few hundred pixels a side and give at most a few
// thousand dimensions, in batches of at most a few hundred.
const (
	maxSide  = 8192
	maxDim   = 1 << 16
	maxBatch = 1 << 12
)

// readSignature checks that the model takes a batch of RGB images as float32 and gives one float32
// vector per image, and says what is wrong, with the shapes, when it does not.
func readSignature(inputs, outputs []ort.InputOutputInfo) (signature, error) {
	if len(inputs) != 1 {
		return signature{}, fmt.Errorf("%d inputs (%s), want one image input", len(inputs), describe(inputs))
	}
	if len(outputs) == 0 {
		return signature{}, fmt.Errorf("no output")
	}
	in, out := inputs[0], outputs[0]
	want := "want a float32 image batch [N,3,H,W] (NCHW) or [N,H,W,3] (NHWC) with fixed H and W"
	if in.OrtValueType != ort.ONNXTypeTensor || in.DataType != ort.TensorElementDataTypeFloat {
		return signature{}, fmt.Errorf("input %s: %s", in.String(), want)
	}
	d := in.Dimensions
	if len(d) != 4 {
		return signature{}, fmt.Errorf("input %q has shape %v (rank %d): %s", in.Name, d, len(d), want)
	}
	s := signature{input: in.Name, output: out.Name}
	switch {
	case d[1] == 3:
		s.layout, s.height, s.width = nchw, int(d[2]), int(d[3])
	case d[3] == 3:
		s.layout, s.height, s.width = nhwc, int(d[1]), int(d[2])
	default:
		return signature{}, fmt.Errorf("input %q has shape %v: no axis of 3 channels where NCHW or NHWC has it; %s", in.Name, d, want)
	}
	if s.height <= 0 || s.width <= 0 {
		return signature{}, fmt.Errorf("input %q has shape %v: height and width are not fixed (%s)", in.Name, d, want)
	}
	if s.height > maxSide || s.width > maxSide {
		return signature{}, fmt.Errorf("input %q has shape %v: images larger than %d pixels a side are not supported", in.Name, d, maxSide)
	}
	if d[0] > maxBatch {
		return signature{}, fmt.Errorf("input %q has shape %v: a fixed batch over %d is not supported", in.Name, d, maxBatch)
	}
	if d[0] > 0 {
		s.batch = int(d[0])
	}
	if out.OrtValueType != ort.ONNXTypeTensor || out.DataType != ort.TensorElementDataTypeFloat {
		return signature{}, fmt.Errorf("output %s: want a float32 tensor [N,D]", out.String())
	}
	var err error
	od := out.Dimensions
	if s.dim, err = embeddingWidth(out.Name, od); err != nil {
		return signature{}, err
	}
	if od[0] > 0 && int(od[0]) != s.batch {
		return signature{}, fmt.Errorf("output %q has shape %v: its batch axis does not follow the input's %v", out.Name, od, d)
	}
	return s, nil
}

// embeddingWidth is D of an output shaped [N,D] (or [N,D,1,1], as a 1×1 convolution head gives),
// or 0 when D is declared dynamic, for a probe run to learn. Any other shape is not one embedding
// per image, and the error says what the model gives.
func embeddingWidth(name string, shape []int64) (int, error) {
	want := "want [N,D]: one embedding per image"
	if len(shape) < 2 {
		return 0, fmt.Errorf("output %q has shape %v (rank %d): %s", name, shape, len(shape), want)
	}
	dynamic := false
	for _, n := range shape[2:] {
		if n > 1 || n == 0 {
			return 0, fmt.Errorf("output %q has shape %v (rank %d): %s (a feature map or a sequence is not an embedding)", name, shape, len(shape), want)
		}
		dynamic = dynamic || n < 0
	}
	switch d := shape[1]; {
	case d <= 0 || dynamic:
		return 0, nil
	case d > maxDim:
		return 0, fmt.Errorf("output %q has shape %v: embeddings wider than %d are not supported", name, shape, maxDim)
	default:
		return int(d), nil
	}
}

func describe(infos []ort.InputOutputInfo) string {
	parts := make([]string, len(infos))
	for i, info := range infos {
		parts[i] = info.String()
	}
	return strings.Join(parts, "; ")
}
