package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/facestream/facestream/objstore"
	"github.com/facestream/facestream/offline"
	"github.com/facestream/facestream/offline/report"
)

// offlineArgs is what every stage takes; offlineUsage adds the list of stages.
const offlineArgs = `DS --out EQ [--model M.onnx] [--config pipeline.yaml] [--work DIR] [--part i/N|auto/N] [parameter flags]`

const offlineUsage = `{run|embed|select|augment|equalize} ` + offlineArgs + `

  run       every stage, skipping those whose outputs match their inputs and parameters
  embed     S2: embed every photo (--part i/N: one identity range, for parallel jobs)
  select    S2: class centres, cosines, the base (cos > t), report/removed.csv; merges the embed parts
  augment   S3: offline augmentation of the base kept by a < cos < b (--part i/N)
  equalize  S4: quotas and weights, the equalized dataset and its report; merges the augment parts`

// runOffline runs the offline stages S2–S4 of a raw dataset.
func runOffline(args []string) (err error) {
	stage, p, part, st, err := parseOffline(args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	datasetName, outName := p.Dataset, p.Out
	dir, release, err := st.fetch(ctx, p.Dataset)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, release()) }()
	if dir != datasetName {
		p.Dataset, p.DatasetName = dir, datasetName
	}
	out, publish, err := st.output(p.Out)
	if err != nil {
		return err
	}
	p.Out = out
	var mirror workMirror
	if p.Work, mirror, err = st.work(p.Work); err != nil {
		return err
	}
	if err := mirror.Pull(ctx); err != nil {
		return err
	}
	var finish func()
	p.Progress, finish = terminalProgress()
	// No signal handler: an interrupt kills the process at once, which is safe because every stage
	// output is written atomically and a rerun picks up after the last finished stage.
	switch stage {
	case "run":
		err = p.Run(ctx)
	case "embed":
		err = p.Embed(ctx, part)
	case "select":
		if part.Count > 1 {
			err = p.SelectPart(ctx, part)
		} else {
			err = p.Select(ctx)
		}
	case "augment":
		err = p.Augment(ctx, part)
	case "equalize":
		err = p.Equalize(ctx)
	}
	finish()
	if err == nil {
		err = mirror.Push(ctx)
	}
	if err != nil || (stage != "run" && stage != "equalize") {
		return err
	}
	if err := publish(ctx); err != nil {
		return err
	}
	if out != outName {
		fmt.Printf("uploaded %s to %s\n", out, outName)
	}
	return printSummary(os.Stdout, p.Out, outName)
}

// parseOffline reads the stage, the dataset and the flags: the config file first, then the flags
// that were given, each over the one parameter it names.
func parseOffline(args []string) (stage string, p *offline.Pipeline, part offline.Part, st *storage, err error) {
	if len(args) == 0 || (args[0] != "run" && args[0] != "embed" && args[0] != "select" && args[0] != "augment" && args[0] != "equalize") {
		fmt.Fprintf(os.Stderr, "usage: facestream offline %s\n\nflags: facestream offline STAGE -h\n", offlineUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return "", nil, part, nil, flag.ErrHelp
		}
		return "", nil, part, nil, fmt.Errorf("want a stage: run, embed, select, augment or equalize")
	}
	stage = args[0]
	fs := newFlags("offline "+stage, offlineArgs)
	out := fs.String("out", "", "equalized dataset folder to write (required)")
	configPath := fs.String("config", "", "YAML file with every parameter (see examples/pipeline.yaml); flags override it")
	work := fs.String("work", "", "folder for stage outputs and records (default EQ/.work)")
	force := fs.Bool("force", false, "replace a dataset in --out that an offline run of DS did not write")
	st = addStorageFlags(fs)
	partFlag := fs.String("part", "0/1", "embed, select, augment: the identity range i/N this job handles, or auto/N: i from $JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or $SLURM_ARRAY_TASK_ID (Slurm array 0-(N-1)) (select: its nearest-centre check; run select alone after)")
	overrides := map[string]func(c *offline.Config, v string) error{}
	override := func(name, usage string, set func(c *offline.Config, v string) error) {
		fs.String(name, "", usage)
		overrides[name] = set
	}
	override("model", "pre-model .onnx (config: model)", func(c *offline.Config, v string) error { c.Model = v; return nil })
	override("ort-lib", "ONNX Runtime shared library (config: ort_lib)", func(c *offline.Config, v string) error { c.OrtLib = v; return nil })
	override("truth", "truth.csv of planted noise to score S2 against (config: truth)", func(c *offline.Config, v string) error { c.Truth = v; return nil })
	override("seed", "seed of S3's recipes (config: seed)", func(c *offline.Config, v string) (err error) {
		c.Seed, err = strconv.ParseUint(v, 10, 64)
		return err
	})
	override("batch", "embedding batch (config: embed.batch)", intSetter(func(c *offline.Config) *int { return &c.Embed.Batch }))
	override("t", "S2 threshold: auto, a cosine or a quantile such as p10 (config: select.t)", specSetter(func(c *offline.Config) *offline.Spec { return &c.Select.T }))
	override("impostor-far", "S2 t: auto's share of impostor cosines above t (config: select.impostor_far)", floatSetter(func(c *offline.Config) *float64 { return &c.Select.ImpostorFAR }))
	override("margin", "S2: how much nearer another identity's centre a photo must be to leave its own (config: select.margin)", floatSetter(func(c *offline.Config) *float64 { return &c.Select.Margin }))
	override("action", "S2: drop or relabel a photo nearer another identity (config: select.action)", func(c *offline.Config, v string) error { c.Select.Action = v; return nil })
	override("keep-min", "S2: best photos kept per identity whatever their cosine (config: select.keep_min)", intSetter(func(c *offline.Config) *int { return &c.Select.KeepMin }))
	override("robust", "S2: true recomputes each centre from its first base (config: select.robust)", boolSetter(func(c *offline.Config) *bool { return &c.Select.Robust }))
	override("nearest", "S2: true checks every photo against every identity's centre (config: select.nearest)", boolSetter(func(c *offline.Config) *bool { return &c.Select.Nearest }))
	override("a", "S3 lower cosine bound: number, t or quantile of the base (config: augment.a)", specSetter(func(c *offline.Config) *offline.Spec { return &c.Augment.A }))
	override("b", "S3 upper cosine bound: number, t or quantile of the base (config: augment.b)", specSetter(func(c *offline.Config) *offline.Spec { return &c.Augment.B }))
	override("n", "S3 kept augmentations per identity, or auto (config: augment.n)", specSetter(func(c *offline.Config) *offline.Spec { return &c.Augment.N }))
	override("attempts", "S3 candidates tried per wanted image (config: augment.attempts)", intSetter(func(c *offline.Config) *int { return &c.Augment.Attempts }))
	override("policy", "S4 policy: balanced or sqrt (config: equalize.policy)", func(c *offline.Config, v string) error { c.Equalize.Policy = v; return nil })
	override("target", "S4 target: median, a number or a quantile of clean sizes (config: equalize.target)", specSetter(func(c *offline.Config) *offline.Spec { return &c.Equalize.Target }))
	override("cap", "S4 most draws per identity: none, a number or a quantile (config: equalize.cap)", specSetter(func(c *offline.Config) *offline.Spec { return &c.Equalize.Cap }))

	pos, err := parseExact(fs, args[1:], "DS")
	if err != nil {
		return "", nil, part, nil, err
	}
	if *out == "" {
		fs.Usage()
		return "", nil, part, nil, fmt.Errorf("--out is required")
	}
	for _, location := range []string{pos[0], *out} {
		if _, _, err := objstore.Parse(location); err != nil {
			return "", nil, part, nil, err
		}
	}
	if *work != "" {
		if _, _, err := objstore.Parse(*work); err != nil {
			return "", nil, part, nil, fmt.Errorf("--work: %w", err)
		}
	}
	cfg := offline.DefaultConfig()
	if *configPath != "" {
		if cfg, err = offline.LoadConfig(*configPath); err != nil {
			return "", nil, part, nil, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if set, ok := overrides[f.Name]; ok && err == nil {
			if serr := set(&cfg, f.Value.String()); serr != nil {
				err = fmt.Errorf("--%s %q: %w", f.Name, f.Value.String(), serr)
			}
		}
	})
	if err != nil {
		return "", nil, part, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return "", nil, part, nil, err
	}
	if part, err = offline.ResolvePart(*partFlag, os.Getenv); err != nil {
		return "", nil, part, nil, err
	}
	if part.Count > 1 && stage != "embed" && stage != "select" && stage != "augment" {
		return "", nil, part, nil, fmt.Errorf("--part splits embed, select's nearest-centre check and augment; equalize merges the parts")
	}
	return stage, &offline.Pipeline{Dataset: pos[0], Out: *out, Work: *work, Config: cfg, Force: *force}, part, st, nil
}

func boolSetter(field func(c *offline.Config) *bool) func(c *offline.Config, v string) error {
	return func(c *offline.Config, v string) (err error) {
		*field(c), err = strconv.ParseBool(v)
		return err
	}
}

func floatSetter(field func(c *offline.Config) *float64) func(c *offline.Config, v string) error {
	return func(c *offline.Config, v string) (err error) {
		*field(c), err = strconv.ParseFloat(v, 64)
		return err
	}
}

func intSetter(field func(c *offline.Config) *int) func(c *offline.Config, v string) error {
	return func(c *offline.Config, v string) (err error) {
		*field(c), err = strconv.Atoi(v)
		return err
	}
}

func specSetter(field func(c *offline.Config) *offline.Spec) func(c *offline.Config, v string) error {
	return func(c *offline.Config, v string) error {
		*field(c) = offline.Spec(v)
		return nil
	}
}

// printSummary prints the figures of the report an equalize wrote into out, naming its files
// under location (out itself, or the s3:// location out was uploaded to).
func printSummary(w io.Writer, out, location string) error {
	data, err := os.ReadFile(filepath.Join(out, "report", "report.json"))
	if err != nil {
		return fmt.Errorf("read the report: %w", err)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("read the report: %w", err)
	}
	fmt.Fprintf(w, "raw: %d photos of %d identities\n", r.Raw.Samples, r.Raw.Identities)
	fmt.Fprintf(w, "S2: t %s = %.4f, kept %d (relabeled %d), removed %d: %d at most t, %d nearer another identity, %d undecodable (see %s)\n",
		r.S2.TSpec, r.S2.T, r.S2.Kept, r.S2.Relabeled, r.S2.Removed, r.S2.BelowT, r.S2.NearerOther, r.S2.Undecodable,
		joinLocation(location, "report/removed.csv"))
	if r.S2.Weak {
		fmt.Fprintf(w, "S2: the pre-model does not separate these identities (%.2g of impostor cosines above the median genuine one): cleaned conservatively\n", r.S2.Overlap)
	}
	if t := r.S2.Truth; t != nil {
		fmt.Fprintf(w, "S2 vs truth: removed %.1f%% of %d noisy photos, kept %.1f%% of %d clean (precision %.3f, recall %.3f)\n",
			100*t.NoiseRemovedRate, t.NoiseTotal, 100*t.CleanKeptRate, t.CleanTotal, t.Precision, t.Recall)
		for _, k := range t.Kinds {
			fmt.Fprintf(w, "  %-10s %5d photos: %.1f%% removed", k.Kind, k.Total, 100*k.RemovedRate)
			if k.Relabeled > 0 {
				fmt.Fprintf(w, " (%d relabeled, %d to the identity they show)", k.Relabeled, k.RelabeledRight)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "S3: (a, b) = (%s, %s) = (%.4f, %.4f), kept %d of %d candidates\n", r.S3.ASpec, r.S3.BSpec, r.S3.A, r.S3.B,
		r.S3.Accepted, r.S3.Attempts)
	fmt.Fprintf(w, "S4: %s, target %d: identity entropy %.4f → %.4f, max/min %.1f → %.1f\n", r.S4.Policy, r.S4.Target,
		r.S4.Before.Entropy, r.S4.After.Entropy, r.S4.Before.MaxMinRatio, r.S4.After.MaxMinRatio)
	fmt.Fprintf(w, "report: %s\n", joinLocation(location, "report/report.html"))
	return nil
}
