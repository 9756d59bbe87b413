package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/offline"
	"github.com/facestream/facestream/offline/embed"
)

// asMainEnv makes this package's test binary run as facestream itself, so that tests run the
// deploy/ recipes as the real command in separate processes, as a scheduler would.
const asMainEnv = "FACESTREAM_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const deployDir = "../../deploy"

// k8sObject is the part of a Kubernetes manifest the recipes use.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		CompletionMode string         `yaml:"completionMode"`
		Completions    int            `yaml:"completions"`
		Parallelism    int            `yaml:"parallelism"`
		Template       k8sPodTemplate `yaml:"template"`
		Selector       struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Ports []struct { // a Service's
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
		AccessModes []string `yaml:"accessModes"`
	} `yaml:"spec"`
}

type k8sPodTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		RestartPolicy string `yaml:"restartPolicy"`
		Containers    []struct {
			Name  string   `yaml:"name"`
			Image string   `yaml:"image"`
			Args  []string `yaml:"args"`
			Ports []struct {
				Name          string `yaml:"name"`
				ContainerPort int    `yaml:"containerPort"`
			} `yaml:"ports"`
			ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
			LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
			Resources      struct {
				Requests map[string]string `yaml:"requests"`
				Limits   map[string]string `yaml:"limits"`
			} `yaml:"resources"`
			VolumeMounts []struct {
				Name      string `yaml:"name"`
				MountPath string `yaml:"mountPath"`
			} `yaml:"volumeMounts"`
		} `yaml:"containers"`
		Volumes []struct {
			Name string `yaml:"name"`
			PVC  struct {
				ClaimName string `yaml:"claimName"`
			} `yaml:"persistentVolumeClaim"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

func readManifests(t *testing.T, path string) []k8sObject {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o k8sObject
		if err := dec.Decode(&o); err == io.EOF {
			return objs
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		objs = append(objs, o)
	}
}

// offlineFixture is a shared folder as the recipes expect it: /data/raw (a small synth set),
// /data/models/premodel.onnx (the shipped pre-model); and the shard hashes of a single-machine
// offline run of it, which every split run must reproduce byte for byte.
func offlineFixture(t *testing.T) (data string, env []string, want []string) {
	t.Helper()
	lib, err := embed.LibraryPath("")
	if err != nil {
		t.Skipf("ONNX Runtime is not available: %v", err)
	}
	dir := t.TempDir()
	data = filepath.Join(dir, "data")
	if err := runSynth([]string{"--out", filepath.Join(dir, "syn"), "--identities", "16", "--seed", "5", "--size", "64"}); err != nil {
		t.Fatal(err)
	}
	if err := runImport([]string{"imagefolder", filepath.Join(dir, "syn", "images"), "--out", filepath.Join(data, "raw")}); err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile("../../testdata/premodel-synth.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(data, "models"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "models", "premodel.onnx"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	env = append(os.Environ(), asMainEnv+"=1", embed.LibraryEnv+"="+lib)
	single := filepath.Join(dir, "single")
	runFacestream(t, env, "offline", "run", filepath.Join(data, "raw"), "--out", single, "--model", filepath.Join(data, "models", "premodel.onnx"))
	return data, env, datasetHashes(t, single)
}

// runFacestream runs the facestream command (this test binary as main) and fails on an error.
func runFacestream(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("facestream %q: %v\n%s", args, err, out)
	}
}

func datasetHashes(t *testing.T, dir string) []string {
	t.Helper()
	m, err := arrowio.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m.ContentHashes()
}

// autoPart is the N of a --part auto/N argument, or 0 without one.
func autoPart(t *testing.T, args []string) int {
	t.Helper()
	i := slices.Index(args, "--part")
	if i < 0 {
		return 0
	}
	n, ok := strings.CutPrefix(args[i+1], "auto/")
	if !ok {
		t.Fatalf("%q: a recipe must take its part from the scheduler (--part auto/N), not %s", args, args[i+1])
	}
	parts, err := strconv.Atoi(n)
	if err != nil {
		t.Fatal(err)
	}
	return parts
}

// TestKubernetesRecipes checks deploy/k8s against the real command: every offline Job names a
// stage and flags facestream accepts, an Indexed Job's completions match its --part auto/N, and
// running the Jobs in order, each completion index as its own process with $JOB_COMPLETION_INDEX
// set, on one shared folder, writes the bytes of a single-machine run. The serve Deployment's
// arguments start a server whose probes answer.
func TestKubernetesRecipes(t *testing.T) {
	claims := readManifests(t, filepath.Join(deployDir, "k8s", "storage.yaml"))
	if len(claims) != 1 || claims[0].Kind != "PersistentVolumeClaim" || !slices.Equal(claims[0].Spec.AccessModes, []string{"ReadWriteMany"}) {
		t.Fatalf("storage.yaml: %+v, want one ReadWriteMany claim (parts write from many nodes)", claims)
	}
	claim := claims[0].Metadata.Name
	checkPod := func(file string, p k8sPodTemplate) {
		t.Helper()
		if len(p.Spec.Containers) != 1 || len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].PVC.ClaimName != claim {
			t.Fatalf("%s: want one container and the volume of claim %s: %+v", file, claim, p.Spec)
		}
		c := p.Spec.Containers[0]
		if c.Image != "facestream:latest" || c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" ||
			c.Resources.Limits["memory"] == "" || len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/data" {
			t.Fatalf("%s: container %+v: want image facestream:latest, cpu and memory requests, a memory limit, /data mounted", file, c)
		}
	}

	data, env, want := offlineFixture(t)
	files, err := filepath.Glob(filepath.Join(deployDir, "k8s", "offline", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no offline Jobs in deploy/k8s/offline: %v", err)
	}
	var stages []string
	for _, file := range files {
		jobs := readManifests(t, file)
		if len(jobs) != 1 || jobs[0].Kind != "Job" {
			t.Fatalf("%s: want one Job, got %+v", file, jobs)
		}
		job := jobs[0]
		checkPod(file, job.Spec.Template)
		if job.Spec.Template.Spec.RestartPolicy != "Never" {
			t.Fatalf("%s: restartPolicy %q, want Never (a part's retry is its own pod)", file, job.Spec.Template.Spec.RestartPolicy)
		}
		args := job.Spec.Template.Spec.Containers[0].Args
		parts := autoPart(t, args)
		indexed := job.Spec.CompletionMode == "Indexed"
		if indexed != (parts > 0) || (indexed && (job.Spec.Completions != parts || job.Spec.Parallelism != parts)) {
			t.Fatalf("%s: completionMode %q, completions %d, parallelism %d for --part auto/%d", file,
				job.Spec.CompletionMode, job.Spec.Completions, job.Spec.Parallelism, parts)
		}
		if len(args) < 2 || args[0] != "offline" {
			t.Fatalf("%s: args %q, want an offline stage", file, args)
		}
		stages = append(stages, args[1])
		runParts(t, env, max(parts, 1), func(i int) []string {
			if parts == 0 {
				return nil
			}
			return []string{offline.K8sIndexEnv + "=" + strconv.Itoa(i)}
		}, onData(args, data))
	}
	if wantStages := []string{"embed", "select", "select", "select", "augment", "equalize"}; !slices.Equal(stages, wantStages) {
		t.Fatalf("the Jobs run %v in file order, want %v", stages, wantStages)
	}
	if got := datasetHashes(t, filepath.Join(data, "eq")); !slices.Equal(got, want) {
		t.Fatalf("the Indexed Jobs wrote %v, a single run %v", got, want)
	}

	objs := readManifests(t, filepath.Join(deployDir, "k8s", "serve.yaml"))
	if len(objs) != 2 || objs[0].Kind != "Deployment" || objs[1].Kind != "Service" {
		t.Fatalf("serve.yaml: want a Deployment and a Service, got %+v", objs)
	}
	checkPod("serve.yaml", objs[0].Spec.Template)
	c := objs[0].Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe == nil || c.LivenessProbe == nil || len(c.Ports) != 1 || objs[1].Spec.Ports[0].TargetPort != c.Ports[0].Name ||
		c.ReadinessProbe.HTTPGet.Port != c.Ports[0].Name || c.LivenessProbe.HTTPGet.Port != c.Ports[0].Name {
		t.Fatalf("serve.yaml: container %+v: want readiness and liveness probes on the Service's port", c)
	}
	for k, v := range objs[0].Spec.Selector.MatchLabels {
		if objs[0].Spec.Template.Metadata.Labels[k] != v {
			t.Fatalf("serve.yaml: the Deployment's selector %v does not match its pods' labels", objs[0].Spec.Selector.MatchLabels)
		}
	}
	addr := fmt.Sprintf("0.0.0.0:%d", c.Ports[0].ContainerPort)
	if i := slices.Index(c.Args, "--addr"); i < 0 || c.Args[i+1] != addr {
		t.Fatalf("serve.yaml: args %q, want --addr %s (the container port)", c.Args, addr)
	}
	// The server, on the equalized dataset the Jobs wrote, on a free port instead of 8080.
	args := onData(c.Args, data)
	args[slices.Index(args, "--addr")+1] = "127.0.0.1:0"
	for _, probe := range []*k8sProbe{c.ReadinessProbe, c.LivenessProbe} {
		serveAndProbe(t, env, args, probe.HTTPGet.Path)
	}
}

// onData maps the recipes' /data onto the test's shared folder.
func onData(args []string, data string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if rest, ok := strings.CutPrefix(a, "/data/"); ok {
			a = filepath.Join(data, rest)
		}
		out[i] = a
	}
	return out
}

// runParts runs facestream with args as n processes at once, process i with partEnv(i) added to
// env, as a scheduler runs an array of jobs, and fails if any fails.
func runParts(t *testing.T, env []string, n int, partEnv func(i int) []string, args []string) {
	t.Helper()
	errs := make([]error, n)
	outs := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(slices.Clip(env), partEnv(i)...)
			outs[i], errs[i] = cmd.CombinedOutput()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("facestream %q, part %d of %d: %v\n%s", args, i, n, err, outs[i])
		}
	}
}

var servingOn = regexp.MustCompile(`serving .* on (http://\S+)`)

// startServer runs facestream serve with args (this test binary as main) until the test ends,
// and returns the URL it serves on.
func startServer(t *testing.T, env, args []string) string {
	t.Helper()
	url, err := launchServer(t, env, args)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// launchServer is startServer for any goroutine: it reports a failure instead of ending the test.
func launchServer(t *testing.T, env, args []string) (string, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait() // killed: its error says so
	})
	var said []string
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if m := servingOn.FindStringSubmatch(lines.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return m[1], nil
		}
		said = append(said, lines.Text())
	}
	return "", fmt.Errorf("facestream %q did not say where it serves:\n%s", args, strings.Join(said, "\n"))
}

// serveAndProbe starts facestream serve with args and expects 200 from path.
func serveAndProbe(t *testing.T, env, args []string, path string) {
	t.Helper()
	url := startServer(t, env, args)
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
}

// TestSlurmRecipes runs deploy/slurm/offline.sh with testdata/fakeslurm's sbatch and srun, which
// run each job at once (an array's tasks as parallel processes with the variables Slurm sets)
// and log what was submitted: the stages come in order, each after the one before, every array
// is declared 0-(N-1) for --part auto/N, and the split run writes the bytes of a single one.
func TestSlurmRecipes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	data, env, want := offlineFixture(t)
	fake, err := filepath.Abs("testdata/fakeslurm")
	if err != nil {
		t.Fatal(err)
	}
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	submissions := filepath.Join(t.TempDir(), "submissions")
	cmd := exec.Command("bash", filepath.Join(deployDir, "slurm", "offline.sh"),
		filepath.Join(data, "raw"), filepath.Join(data, "eq"), filepath.Join(data, "models", "premodel.onnx"), "3")
	cmd.Env = append(env, "SBATCH="+filepath.Join(fake, "sbatch"), "PATH="+fake+string(filepath.ListSeparator)+os.Getenv("PATH"),
		"FACESTREAM="+self, "FAKESLURM_LOG="+submissions, "FAKESLURM_OUT="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("offline.sh: %v\n%s", err, out)
	}
	if got := datasetHashes(t, filepath.Join(data, "eq")); !slices.Equal(got, want) {
		t.Fatalf("the Slurm arrays wrote %v, a single run %v", got, want)
	}
	log, err := os.ReadFile(submissions)
	if err != nil {
		t.Fatal(err)
	}
	// Each line: id, array (or -), dependency (or -), then the stage's arguments.
	var stages []string
	for i, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		f := strings.Split(line, "\t")
		id, array, dep, args := f[0], f[1], f[2], f[3:]
		wantDep := "-"
		if i > 0 {
			wantDep = "afterok:" + strconv.Itoa(i)
		}
		if id != strconv.Itoa(i+1) || dep != wantDep {
			t.Fatalf("submission %d: job %s after %s, want job %d after %s", i, id, dep, i+1, wantDep)
		}
		parts := autoPart(t, args)
		if (parts == 0) != (array == "-") || (parts > 0 && array != fmt.Sprintf("0-%d", parts-1)) {
			t.Fatalf("submission %d: array %s for %q", i, array, args)
		}
		stages = append(stages, args[0])
	}
	if wantStages := []string{"embed", "select", "select", "select", "augment", "equalize"}; !slices.Equal(stages, wantStages) {
		t.Fatalf("offline.sh submits %v, want %v", stages, wantStages)
	}
}

// TestDockerfile checks deploy/Dockerfile's promises that a mistake would break silently: it
// builds this command, fetches the ONNX Runtime version the binding needs (the one setup.sh
// fetches), puts the library where ONNXRUNTIME_SHARED_LIBRARY_PATH says, and runs facestream.
func TestDockerfile(t *testing.T) {
	docker, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	setup, err := os.ReadFile("../../scripts/setup.sh")
	if err != nil {
		t.Fatal(err)
	}
	version := regexp.MustCompile(`(?m)^ORT_VERSION=(\S+)$`).FindSubmatch(setup)
	arg := regexp.MustCompile(`(?m)^ARG ORT_VERSION=(\S+)$`).FindSubmatch(docker)
	if version == nil || arg == nil || string(arg[1]) != string(version[1]) || embed.LibraryName != "libonnxruntime.so."+string(version[1]) {
		t.Fatalf("ONNX Runtime: Dockerfile %q, setup.sh %q, the binding wants %s", arg, version, embed.LibraryName)
	}
	stages := strings.Split(string(docker), "\nFROM ")
	final := stages[len(stages)-1]
	env := regexp.MustCompile(`(?m)^ENV ` + embed.LibraryEnv + `=(\S+)$`).FindStringSubmatch(final)
	if env == nil || !regexp.MustCompile(`(?m)^COPY --from=\S+ \S+libonnxruntime\.so\.1 `+regexp.QuoteMeta(env[1])+`$`).MatchString(final) {
		t.Fatalf("the final stage must copy the library to $%s (%q)", embed.LibraryEnv, env)
	}
	for _, want := range []string{"go build", "./cmd/facestream", "onnxruntime-node@${ORT_VERSION}", "libturbojpeg0-dev"} {
		if !strings.Contains(string(docker), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !strings.Contains(final, "\nCOPY --from=build /out/facestream /usr/local/bin/facestream\n") || !strings.Contains(final, "\nENTRYPOINT [\"facestream\"]") ||
		!strings.Contains(final, "libturbojpeg0 ") {
		t.Errorf("the final stage must carry the binary and TurboJPEG and run facestream:\n%s", final)
	}
}
