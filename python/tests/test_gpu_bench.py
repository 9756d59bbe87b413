"""bench/gpu: the CPU-time accounting, the summary of a run, and the whole script on CPU."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "bench", "gpu"))
import gpu_bench  # noqa: E402


class CPUTimeTest(unittest.TestCase):
    def test_parse_stat(self):
        tck = os.sysconf("SC_CLK_TCK")
        # The command name may hold spaces and parentheses; utime and stime are fields 14 and 15.
        fields = ["S", "77"] + ["0"] * 9 + [str(3 * tck), str(tck // 2)] + ["0"] * 30
        self.assertEqual(gpu_bench.parse_stat("4242 (py (x) y) " + " ".join(fields)), (77, 3.5))
        with self.assertRaises(ValueError):
            gpu_bench.parse_stat("4242 (short) S 1 2 3")

    def test_own_process(self):
        parent, seconds = gpu_bench.read_stat(os.getpid())
        self.assertEqual(parent, os.getppid())
        self.assertGreater(gpu_bench.client_cpu_seconds(), 0)
        self.assertGreaterEqual(gpu_bench.client_cpu_seconds(), seconds)

    def test_cpu_per_image(self):
        # 0.2 s of client and 1.8 s of server over 4,000 images: 50 + 450 µs.
        got = gpu_bench.cpu_per_image((10.0, 100.0), (10.2, 101.8), 4000)
        for key, want in (("client", 50), ("server", 450), ("total", 500)):
            self.assertAlmostEqual(got[key], want, places=6)
        self.assertEqual(gpu_bench.cpu_per_image((1.0, None), (1.5, None), 1000), {"client": 500.0, "total": 500.0})
        self.assertIsNone(gpu_bench.CPUMeter().per_image(10))  # never started


class SummaryTest(unittest.TestCase):
    def part(self, rate, **extra):
        return {"result": {"best": {"images_per_s": rate, **extra}}}

    def test_ratios(self):
        parts = {"d-synthetic": self.part(40000.0), "b-train": self.part(36000.0, gpu_waited_fraction=0.05),
                 "c-torch-train": self.part(12000.0, gpu_waited_fraction=0.4), "a-loader": self.part(60000.0)}
        s = gpu_bench.summarize(parts)
        self.assertAlmostEqual(s["stream_of_ceiling"], 0.9)
        self.assertAlmostEqual(s["dataloader_of_ceiling"], 0.3)
        self.assertAlmostEqual(s["stream_over_dataloader"], 3.0)
        self.assertEqual((s["stream_waited_fraction"], s["dataloader_waited_fraction"]), (0.05, 0.4))
        self.assertIn("CUDA events", s["waited_measure"])
        self.assertIsNone(s["stream_unplaced_of_ceiling"])  # that part did not run
        self.assertTrue(any("n/a" in line for line in gpu_bench.summary_lines(s)))

    def test_failed_parts(self):
        s = gpu_bench.summarize({"b-train": {"error": "exit status 124"}})
        self.assertIsNone(s["stream_of_ceiling"])
        self.assertIsNone(s["stream_waited_fraction"])


@unittest.skipUnless(os.environ.get("FACESTREAM_BIN"), "needs a facestream binary ($FACESTREAM_BIN; run_tests.sh sets it)")
class CPUSmokeTest(unittest.TestCase):
    """bench/gpu/run.sh --cpu-smoke: every part on CPU for a second, and the report of them all."""

    def test_run_sh(self):
        with tempfile.TemporaryDirectory() as work:
            env = {**os.environ, "PY": sys.executable}
            run = subprocess.run(["bash", os.path.join(REPO, "bench", "gpu", "run.sh"), "--bin",
                                  os.environ["FACESTREAM_BIN"], "--cpu-smoke", "--work", work],
                                 env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(run.returncode, 0, run.stderr[-3000:])
            with open(os.path.join(work, "gpu_bench.json")) as f:
                doc = json.load(f)
        want = {"a-loader", "b-train", "c-torch-loader", "c-torch-train", "d-synthetic"}
        if (os.cpu_count() or 1) > 1:
            want.add("b-train-unplaced")
        self.assertEqual(set(doc["parts"]), want)
        for name, part in doc["parts"].items():
            self.assertNotIn("error", part, name)
            self.assertEqual(part["device"], "cpu", name)
        s = doc["summary"]
        for key in ("ceiling_img_s", "stream_img_s", "dataloader_img_s", "delivered_img_s", "stream_of_ceiling"):
            self.assertGreater(s[key], 0, key)
        self.assertIsNotNone(s["stream_waited_fraction"])
        cpu = s["delivered_cpu_us_per_image"]
        self.assertGreater(cpu["server"], 0)
        self.assertGreater(cpu["client"], 0)
        self.assertIn("trained from facestream's stream", run.stdout)
