package embed

import (
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

func tensor(name string, dt ort.TensorElementDataType, dims ...int64) ort.InputOutputInfo {
	return ort.InputOutputInfo{Name: name, OrtValueType: ort.ONNXTypeTensor, DataType: dt, Dimensions: dims}
}

const f32 = ort.TensorElementDataTypeFloat

func TestReadSignature(t *testing.T) {
	emb := tensor("emb", f32, -1, 512)
	for _, tc := range []struct {
		name    string
		inputs  []ort.InputOutputInfo
		outputs []ort.InputOutputInfo
		want    signature
		err     string
	}{
		{"NCHW dynamic batch", []ort.InputOutputInfo{tensor("data", f32, -1, 3, 112, 96)}, []ort.InputOutputInfo{emb},
			signature{input: "data", output: "emb", layout: nchw, height: 112, width: 96, dim: 512}, ""},
		{"NHWC fixed batch", []ort.InputOutputInfo{tensor("x", f32, 8, 160, 128, 3)}, []ort.InputOutputInfo{tensor("y", f32, 8, 128)},
			signature{input: "x", output: "y", layout: nhwc, batch: 8, height: 160, width: 128, dim: 128}, ""},
		{"output with trailing unit axes", []ort.InputOutputInfo{tensor("x", f32, -1, 3, 112, 112)}, []ort.InputOutputInfo{tensor("y", f32, -1, 256, 1, 1)},
			signature{input: "x", output: "y", layout: nchw, height: 112, width: 112, dim: 256}, ""},
		{"two inputs", []ort.InputOutputInfo{tensor("a", f32, -1, 3, 8, 8), tensor("b", f32, -1)}, []ort.InputOutputInfo{emb},
			signature{}, `2 inputs (Tensor "a"`},
		{"uint8 input", []ort.InputOutputInfo{tensor("x", ort.TensorElementDataTypeUint8, -1, 112, 112, 3)}, []ort.InputOutputInfo{emb},
			signature{}, "UINT8"},
		{"four channels", []ort.InputOutputInfo{tensor("x", f32, -1, 4, 112, 112)}, []ort.InputOutputInfo{emb},
			signature{}, "[-1 4 112 112]: no axis of 3 channels"},
		{"rank 5", []ort.InputOutputInfo{tensor("x", f32, -1, 1, 3, 112, 112)}, []ort.InputOutputInfo{emb},
			signature{}, "(rank 5)"},
		{"no outputs", []ort.InputOutputInfo{tensor("x", f32, -1, 3, 112, 112)}, nil, signature{}, "no output"},
		{"output per pixel", []ort.InputOutputInfo{tensor("x", f32, -1, 3, 112, 112)}, []ort.InputOutputInfo{tensor("y", f32, -1)},
			signature{}, "want [N,D]"},
		{"dynamic embedding width: learned by a probe run", []ort.InputOutputInfo{tensor("x", f32, -1, 3, 112, 112)}, []ort.InputOutputInfo{tensor("y", f32, -1, -1)},
			signature{input: "x", output: "y", layout: nchw, height: 112, width: 112}, ""},
		{"feature map", []ort.InputOutputInfo{tensor("x", f32, -1, 3, 112, 112)}, []ort.InputOutputInfo{tensor("y", f32, -1, 512, 7, 7)},
			signature{}, "[-1 512 7 7] (rank 4): want [N,D]"},
		{"sequence", []ort.InputOutputInfo{tensor("x", f32, -1, 3, 112, 112)}, []ort.InputOutputInfo{tensor("y", f32, -1, 16, 64)},
			signature{}, "(rank 3): want [N,D]"},
		{"huge image", []ort.InputOutputInfo{tensor("x", f32, -1, 3, 1<<20, 112)}, []ort.InputOutputInfo{emb},
			signature{}, "larger than 8192"},
		{"huge embedding", []ort.InputOutputInfo{tensor("x", f32, -1, 3, 112, 112)}, []ort.InputOutputInfo{tensor("y", f32, -1, 1<<40)},
			signature{}, "wider than 65536"},
		{"output batch differs", []ort.InputOutputInfo{tensor("x", f32, 4, 3, 112, 112)}, []ort.InputOutputInfo{tensor("y", f32, 2, 128)},
			signature{}, "does not follow the input's [4 3 112 112]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readSignature(tc.inputs, tc.outputs)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzReadSignature checks that any shapes a model file may declare give a usable signature or an
// error, never a panic or a signature that would size a tensor wrongly.
func FuzzReadSignature(f *testing.F) {
	f.Add(int64(-1), int64(3), int64(112), int64(112), int64(-1), int64(128))
	f.Add(int64(8), int64(112), int64(112), int64(3), int64(8), int64(512))
	f.Add(int64(0), int64(3), int64(0), int64(-1), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, n, a, b, c, on, od int64) {
		s, err := readSignature([]ort.InputOutputInfo{tensor("x", f32, n, a, b, c)}, []ort.InputOutputInfo{tensor("y", f32, on, od)})
		if err != nil {
			return
		}
		if s.height <= 0 || s.width <= 0 || s.height > maxSide || s.width > maxSide || s.dim < 0 || s.dim > maxDim || s.batch < 0 || s.batch > maxBatch {
			t.Fatalf("accepted %v → %v with signature %+v", []int64{n, a, b, c}, []int64{on, od}, s)
		}
	})
}
