package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// importReport is the part of DS/report/import.json the check reads.
type importReport struct {
	Samples     int `json:"samples"`
	Quarantined []struct {
		Source string `json:"source"`
		Reason string `json:"reason"`
	} `json:"quarantined"`
}

type inspectOut struct {
	Samples    int `json:"samples"`
	Identities int `json:"identities"`
}

// checkBadImports feeds import every kind of bad input; none may panic or hang, bad photos must be
// quarantined with a reason, bad containers refused with an error, and a --force import of only bad
// photos must leave the dataset it would replace intact.
func checkBadImports(ctx context.Context, e *env) (string, map[string]any, bool, error) {
	src := filepath.Join(e.work, "badsrc")
	bad, err := writeBadFolder(src, e.syn)
	if err != nil {
		return "", nil, false, err
	}
	var problems []string
	panics := 0
	note := func(out string, err error, what string) {
		if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
			panics++
			problems = append(problems, what+": panic")
		}
		if err != nil && strings.Contains(err.Error(), "timed out") {
			problems = append(problems, what+": hang")
		}
	}

	// The ImageFolder: good photos beside bad ones, with --verify (the server's full decode).
	ds := filepath.Join(e.work, "badds")
	out, err := e.run(ctx, 60*time.Second, "import", "imagefolder", src, "--out", ds, "--verify")
	note(out, err, "imagefolder")
	if err != nil {
		return "", nil, false, fmt.Errorf("import of the mixed folder: %w", err)
	}
	var rep importReport
	if err := readJSON(filepath.Join(ds, "report", "import.json"), &rep); err != nil {
		return "", nil, false, err
	}
	reasons := map[string]string{}
	for _, q := range rep.Quarantined {
		reasons[filepath.Base(q.Source)] = q.Reason
	}
	for _, name := range bad {
		if reasons[name] == "" {
			problems = append(problems, name+" not quarantined")
		}
	}
	var info inspectOut
	if err := e.inspect(ctx, ds, &info); err != nil {
		return "", nil, false, err
	}
	// The 2 good and 2 unicode-named photos (2 identities), nothing through the loop or the link to the root.
	if info.Identities != 2 || info.Samples != 4 {
		problems = append(problems, fmt.Sprintf("imported %d photos of %d identities, want 4 of 2 (links followed?)", info.Samples, info.Identities))
	}

	// Broken containers: refused with an error (or imported with quarantine), never a panic or hang.
	refused := 0
	containers, err := writeBadContainers(ctx, e)
	if err != nil {
		return "", nil, false, err
	}
	for i, c := range containers {
		out, err := e.run(ctx, 30*time.Second, append([]string{"import"}, append(c.args, "--out", filepath.Join(e.work, fmt.Sprintf("c%d", i)))...)...)
		note(out, err, c.name)
		if err != nil {
			refused++
		}
	}

	// --force from a folder of only bad photos must fail and keep the existing dataset.
	onlyBad := filepath.Join(e.work, "onlybad")
	if err := writeOnlyBad(onlyBad); err != nil {
		return "", nil, false, err
	}
	out, ferr := e.run(ctx, 30*time.Second, "import", "imagefolder", onlyBad, "--out", ds, "--force")
	note(out, ferr, "force")
	var after inspectOut
	if err := e.inspect(ctx, ds, &after); err != nil || after != info {
		problems = append(problems, fmt.Sprintf("--force of only bad photos: dataset now %+v (%v), was %+v", after, err, info))
	}
	kept := after == info
	figures := map[string]any{"bad_photos": len(bad), "quarantined": len(rep.Quarantined), "containers": len(containers),
		"containers_refused": refused, "panics": panics, "force_kept_dataset": kept, "problems": problems}
	summary := fmt.Sprintf("%d bad photos (trunc/zero/text JPEG, 7000² PNG bomb, ...): %d quarantined with reasons, %d kept good of %d identities; %d broken .rec/.idx/Parquet: %d refused; %d panics; --force of only bad photos (rc≠0: %v) kept the dataset: %v",
		len(bad), len(rep.Quarantined), info.Samples, info.Identities, len(containers), refused, panics, ferr != nil, kept)
	if len(problems) > 0 {
		summary += "; problems: " + strings.Join(problems, "; ")
	}
	return summary, figures, len(problems) == 0, nil
}

func (e *env) inspect(ctx context.Context, ds string, v any) error {
	out, err := e.run(ctx, 30*time.Second, "inspect", ds, "--json")
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("inspect --json: %w", err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// firstPhotos returns the bytes of the first n photos of the synth set.
func firstPhotos(syn string, n int) ([][]byte, error) {
	paths, err := filepath.Glob(filepath.Join(syn, "images", "*", "*.jpg"))
	if err != nil || len(paths) < n {
		return nil, fmt.Errorf("synth photos: %d found, %v", len(paths), err)
	}
	out := make([][]byte, n)
	for i := range out {
		if out[i], err = os.ReadFile(paths[i]); err != nil {
			return nil, fmt.Errorf("read photo: %w", err)
		}
	}
	return out, nil
}

// writeBadFolder writes an ImageFolder of 2 good photos in "good", 2 in a unicode-named identity,
// and bad files, a symlink loop and a link back to the root; it returns the bad files' names.
func writeBadFolder(src, syn string) ([]string, error) {
	good, err := firstPhotos(syn, 4)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"good/a.jpg": good[0], "good/b.jpg": good[1], "Zoë 李/naïve.jpg": good[2], "Zoë 李/😀.jpg": good[3],
		"bad/truncated.jpg": good[0][:len(good[0])/2], "bad/zero.jpg": nil, "bad/text.jpg": []byte("this is not a photo\n"),
		"bad/header-only.jpg": good[1][:20], "bad/bomb.png": bombPNG(7000, 7000),
		"bad/garbage.png": append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0xff}, 100)...),
	}
	for name, b := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("bad folder: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, fmt.Errorf("bad folder: %w", err)
		}
	}
	// A loop inside an identity and an identity that is the root itself: a follower would never end
	// or would import every photo twice.
	for link, target := range map[string]string{"good/loop": ".", "root": src, "bad/dangling.jpg": "/nonexistent/x.jpg"} {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			return nil, fmt.Errorf("symlink: %w", err)
		}
	}
	return []string{"truncated.jpg", "zero.jpg", "text.jpg", "header-only.jpg", "bomb.png", "garbage.png"}, nil
}

// writeOnlyBad writes an ImageFolder whose every photo is refused.
func writeOnlyBad(dir string) error {
	for name, b := range map[string][]byte{"x/zero.jpg": nil, "x/text.jpg": []byte("no"), "y/bomb.png": bombPNG(7000, 7000)} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("only-bad folder: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("only-bad folder: %w", err)
		}
	}
	return nil
}

// bombPNG is a valid w×h 8-bit grey PNG of one colour: a few hundred KB on disk, w×h bytes (and
// more, as RGBA) once decoded. Rows are compressed one at a time, so making it takes one row of memory.
func bombPNG(w, h int) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 0 // bit depth 8, greyscale
	pngChunk(&buf, "IHDR", ihdr)
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	row := make([]byte, 1+w) // filter byte 0, then w grey pixels of value 0
	for range h {
		zw.Write(row)
	}
	zw.Close()
	pngChunk(&buf, "IDAT", idat.Bytes())
	pngChunk(&buf, "IEND", nil)
	return buf.Bytes()
}

func pngChunk(buf *bytes.Buffer, kind string, data []byte) {
	_ = binary.Write(buf, binary.BigEndian, uint32(len(data)))
	crc := crc32.NewIEEE()
	crc.Write([]byte(kind))
	crc.Write(data)
	buf.WriteString(kind)
	buf.Write(data)
	_ = binary.Write(buf, binary.BigEndian, crc.Sum32())
}

type container struct {
	name string
	args []string
}

// writeBadContainers exports a small valid dataset as RecordIO and Parquet, then breaks copies of
// them: truncated .rec, garbage .idx, pure garbage, and Parquet read with columns of the wrong type.
func writeBadContainers(ctx context.Context, e *env) ([]container, error) {
	dir := filepath.Join(e.work, "containers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("containers: %w", err)
	}
	small := filepath.Join(e.work, "badds") // the 4-photo dataset imported above
	rec, pq := filepath.Join(dir, "ok.rec"), filepath.Join(dir, "ok.parquet")
	if _, err := e.run(ctx, 30*time.Second, "export", small, "--rec", rec); err != nil {
		return nil, err
	}
	if _, err := e.run(ctx, 30*time.Second, "export", small, "--parquet", pq); err != nil {
		return nil, err
	}
	recBytes, err := os.ReadFile(rec)
	if err != nil {
		return nil, fmt.Errorf("read rec: %w", err)
	}
	idx, err := os.ReadFile(strings.TrimSuffix(rec, ".rec") + ".idx")
	if err != nil {
		return nil, fmt.Errorf("read idx: %w", err)
	}
	var werr error // the first failure to write a fixture: a check on a missing file would mislead
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil && werr == nil {
			werr = fmt.Errorf("containers: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil && werr == nil {
			werr = fmt.Errorf("containers: %w", err)
		}
		return p
	}
	truncRec := write("trunc/t.rec", recBytes[:len(recBytes)/2])
	write("trunc/t.idx", idx)
	badIdx := write("badidx/b.rec", recBytes)
	write("badidx/b.idx", []byte("0\t0\n1\tnot-a-number\n2\t99999999999\n"))
	garbage := write("garbage/g.rec", bytes.Repeat([]byte("\xde\xad\xbe\xef"), 5000))
	junkPQ := write("junk.parquet", []byte("PAR1 not really PAR1"))
	if werr != nil {
		return nil, werr
	}
	return []container{
		{"truncated .rec", []string{"rec", truncRec}},
		{"bad .idx", []string{"rec", badIdx}},
		{"garbage .rec", []string{"rec", garbage}},
		{"garbage parquet", []string{"parquet", junkPQ}},
		{"parquet int as image", []string{"parquet", pq, "--image-col", "label"}},
		{"parquet image as label", []string{"parquet", pq, "--label-col", "image"}},
	}, nil
}
