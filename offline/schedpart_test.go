package offline

import (
	"strings"
	"testing"
)

func TestResolvePart(t *testing.T) {
	slurm := func(id, lo, hi, step string) map[string]string {
		return map[string]string{SlurmTaskEnv: id, slurmTaskMinEnv: lo, slurmTaskMaxEnv: hi, slurmTaskStepEnv: step}
	}
	cases := []struct {
		spec string
		env  map[string]string
		want Part
		err  string
	}{
		{"2/5", nil, Part{2, 5}, ""},
		{"2/5", map[string]string{K8sIndexEnv: "4"}, Part{2, 5}, ""}, // explicit wins: the variables are not read
		{"auto/8", map[string]string{K8sIndexEnv: "7"}, Part{7, 8}, ""},
		{"auto/8", map[string]string{K8sIndexEnv: "0", SlurmTaskEnv: "3"}, Part{0, 8}, ""},
		{"auto/8", slurm("3", "0", "7", "1"), Part{3, 8}, ""},
		{"auto/8", slurm("3", "0", "7", ""), Part{3, 8}, ""},
		{"auto/1", slurm("0", "0", "0", ""), Part{0, 1}, ""},
		{"auto/8", map[string]string{K8sIndexEnv: "8"}, Part{}, "completions: 8"},
		{"auto/8", map[string]string{K8sIndexEnv: "x"}, Part{}, "completions: 8"},
		{"auto/8", slurm("4", "1", "8", "1"), Part{}, "declare it --array=0-7"},
		{"auto/8", slurm("4", "0", "15", "1"), Part{}, "declare it --array=0-7"},
		{"auto/8", slurm("4", "0", "7", "2"), Part{}, "declare it --array=0-7"},
		{"auto/8", slurm("4", "", "", ""), Part{}, "tasks unset-unset"},
		{"auto/8", nil, Part{}, "neither $JOB_COMPLETION_INDEX"},
		{"auto/0", map[string]string{K8sIndexEnv: "0"}, Part{}, "N ≥ 1"},
		{"auto", nil, Part{}, "want i/N"},
		{"any/8", nil, Part{}, "want i/N"},
	}
	for _, tc := range cases {
		got, err := ResolvePart(tc.spec, func(k string) string { return tc.env[k] })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ResolvePart(%q, %v) = %v, %v; want an error containing %q", tc.spec, tc.env, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolvePart(%q, %v) = %v, %v; want %v", tc.spec, tc.env, got, err, tc.want)
		}
	}
}
