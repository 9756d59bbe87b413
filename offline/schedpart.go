package offline

import (
	"fmt"
	"strconv"
	"strings"
)

// The index variables of the schedulers that run parts as arrays of identical jobs.
const (
	K8sIndexEnv      = "JOB_COMPLETION_INDEX" // a Kubernetes Indexed Job's completion index
	SlurmTaskEnv     = "SLURM_ARRAY_TASK_ID"  // a Slurm array task's index
	slurmTaskMinEnv  = "SLURM_ARRAY_TASK_MIN"
	slurmTaskMaxEnv  = "SLURM_ARRAY_TASK_MAX"
	slurmTaskStepEnv = "SLURM_ARRAY_TASK_STEP"
)

// ResolvePart reads "i/N", or "auto/N", where i is the index the scheduler gave this job:
// $JOB_COMPLETION_INDEX in a Kubernetes Indexed Job (completions: N), else $SLURM_ARRAY_TASK_ID
// in a Slurm array, which must be declared --array=0-(N-1): an array of another range would
// leave parts undone or run one twice, so it is refused rather than mapped. getenv is os.Getenv
// outside tests.
func ResolvePart(s string, getenv func(string) string) (Part, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok || is != "auto" {
		return ParsePart(s)
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 {
		return Part{}, fmt.Errorf("part %q: want auto/N with N ≥ 1", s)
	}
	if v := getenv(K8sIndexEnv); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || i >= n {
			return Part{}, fmt.Errorf("part %q: $%s is %q; the Indexed Job must have completions: %d (indexes 0..%d)", s, K8sIndexEnv, v, n, n-1)
		}
		return Part{i, n}, nil
	}
	if v := getenv(SlurmTaskEnv); v != "" {
		lo, hi, step := getenv(slurmTaskMinEnv), getenv(slurmTaskMaxEnv), getenv(slurmTaskStepEnv)
		if lo != "0" || hi != strconv.Itoa(n-1) || (step != "" && step != "1") {
			return Part{}, fmt.Errorf("part %q: the Slurm array runs tasks %s-%s (step %s); declare it --array=0-%d for %d parts",
				s, orUnset(lo), orUnset(hi), orUnset(step), n-1, n)
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || i >= n {
			return Part{}, fmt.Errorf("part %q: $%s is %q, want 0..%d", s, SlurmTaskEnv, v, n-1)
		}
		return Part{i, n}, nil
	}
	return Part{}, fmt.Errorf("part %q: neither $%s (a Kubernetes Indexed Job) nor $%s (a Slurm array) is set; give the index as i/%d",
		s, K8sIndexEnv, SlurmTaskEnv, n)
}

func orUnset(v string) string {
	if v == "" {
		return "unset"
	}
	return v
}
