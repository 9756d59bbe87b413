"""The experiment's metrics and statistics against values worked out by hand or from t tables,
and its HTML report rendered in headless Chromium."""

import math
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np
from PIL import Image

from facestream import evaluate, experiment_report


class VerificationTest(unittest.TestCase):
    def test_tar_at_far(self):
        impostor = np.arange(100) / 100.0  # 0.00 .. 0.99
        genuine = [0.5, 0.985, 0.99, 1.0]
        # FAR 1e-2: k = 1 impostor may pass, threshold = 2nd highest impostor 0.98 -> 3 of 4 above
        self.assertAlmostEqual(evaluate.tar_at_far(genuine, impostor, 1e-2), 0.75)
        # FAR 1e-3: k = 0, threshold = the highest impostor 0.99; strictly above it only 1.0
        self.assertAlmostEqual(evaluate.tar_at_far(genuine, impostor, 1e-3), 0.25)

    def test_roc_auc_with_a_tie(self):
        # 0.9 beats all three; 0.4 beats 0.1, ties 0.4 (one half), loses to 0.5: 4.5 of 6
        self.assertAlmostEqual(evaluate.roc_auc([0.9, 0.4], [0.1, 0.4, 0.5]), 0.75)
        self.assertAlmostEqual(evaluate.roc_auc([2, 3], [0, 1]), 1.0)
        self.assertAlmostEqual(evaluate.roc_auc([0, 1], [2, 3]), 0.0)

    def test_kfold_accuracy_by_hand(self):
        scores = np.array([0.1, 0.55, 0.3, 0.25, 0.4, 0.6])
        same = np.array([False, True, True, False, False, True])
        fold = np.array([0, 0, 0, 1, 1, 1])
        # fold 0 tested with the threshold fitted on fold 1 (0.5, between 0.4 and 0.6: all 3 right):
        # 0.3 is missed -> 2/3; fold 1 tested with fold 0's threshold (0.2, between 0.1 and 0.3):
        # 0.25 and 0.4 called "same" -> 1/3
        mean, std, acc = evaluate.kfold_accuracy(scores, same, folds=2, fold=fold)
        np.testing.assert_allclose(acc, [2 / 3, 1 / 3])
        self.assertAlmostEqual(mean, 0.5)
        self.assertAlmostEqual(std, 1 / 6)

    def test_kfold_accuracy_separable(self):
        rng = np.random.default_rng(1)
        scores = np.r_[rng.uniform(0.6, 1, 50), rng.uniform(-1, 0.5, 50)]
        same = np.r_[np.ones(50, bool), np.zeros(50, bool)]
        mean, std, acc = evaluate.kfold_accuracy(scores, same, folds=10, seed=3)
        self.assertEqual((mean, std, len(acc)), (1.0, 0.0, 10))

    def test_pairs(self):
        labels = np.array([0, 0, 0, 1, 1, 2])
        i, j, same = evaluate.verification_pairs(labels, 10, seed=5)
        self.assertEqual(int(same.sum()), 4)  # 3 pairs of class 0, 1 of class 1
        self.assertTrue(np.all(labels[i[same]] == labels[j[same]]))
        self.assertTrue(np.all(labels[i[~same]] != labels[j[~same]]))
        self.assertEqual(int((~same).sum()), 10)
        again = evaluate.verification_pairs(labels, 10, seed=5)
        for a, b in zip((i, j, same), again):
            np.testing.assert_array_equal(a, b)

    def test_verification_metrics_keys(self):
        emb = np.eye(4)[[0, 0, 1, 1, 2, 3]].astype(float)
        i, j, same = evaluate.verification_pairs(np.array([0, 0, 1, 1, 2, 3]), 50, seed=0)
        m = evaluate.verification_metrics(emb, i, j, same)
        self.assertEqual((m["tar@far=0.01"], m["auc"], m["acc10"]), (1.0, 1.0, 1.0))


class IdentificationTest(unittest.TestCase):
    def test_centres_and_rank1(self):
        emb = np.array([[1, 0], [1, 0.2], [0, 1], [0.1, 1]], float)
        centres = evaluate.class_centres(emb, np.array([0, 0, 1, 1]), 3)
        np.testing.assert_allclose(np.linalg.norm(centres[:2], axis=1), 1)
        np.testing.assert_array_equal(centres[2], 0)
        probes = np.array([[1, 0.1], [0.2, 1], [1, 0]])
        np.testing.assert_array_equal(evaluate.rank1_correct(probes, [0, 1, 1], centres), [True, True, False])

    def test_buckets(self):
        sizes = [1, 4, 5, 19, 20, 99, 100, 500]
        correct = [True, False, True, True, False, False, True, True]
        got = evaluate.accuracy_by_bucket(correct, sizes)
        self.assertEqual(got["1-4"], {"accuracy": 0.5, "probes": 2})
        self.assertEqual(got["5-19"], {"accuracy": 1.0, "probes": 2})
        self.assertEqual(got["20-99"], {"accuracy": 0.0, "probes": 2})
        self.assertEqual(got["100+"], {"accuracy": 1.0, "probes": 2})
        self.assertEqual(got["all"], {"accuracy": 5 / 8, "probes": 8})
        self.assertIsNone(evaluate.accuracy_by_bucket([True], [3])["100+"]["accuracy"])


class StatisticsTest(unittest.TestCase):
    def test_betainc(self):
        self.assertAlmostEqual(evaluate.betainc(1, 1, 0.3), 0.3, places=12)
        # I_0.4(2, 3) = P(Binomial(4, 0.4) >= 2) = 0.3456 + 0.1536 + 0.0256
        self.assertAlmostEqual(evaluate.betainc(2, 3, 0.4), 0.5248, places=12)
        # past (a+1)/(a+b+2) the symmetry branch: 1 - P(0) - P(1) of Binomial(4, 0.9)
        self.assertAlmostEqual(evaluate.betainc(2, 3, 0.9), 1 - 0.1 ** 4 - 4 * 0.9 * 0.1 ** 3, places=12)

    def test_t_cdf(self):
        self.assertAlmostEqual(evaluate.t_cdf(1.0, 1), 0.75, places=12)  # Cauchy
        self.assertAlmostEqual(evaluate.t_cdf(0.0, 7), 0.5, places=12)
        # df = 2 has a closed form: 1/2 + t / (2 sqrt(2 + t^2))
        for t in (-3.0, 0.5, 2.0, 10.0):
            self.assertAlmostEqual(evaluate.t_cdf(t, 2), 0.5 + t / (2 * math.sqrt(2 + t * t)), places=12)

    def test_t_quantiles_match_tables(self):
        table = {(0.975, 1): 12.7062047, (0.975, 2): 4.30265273, (0.975, 4): 2.77644511, (0.975, 9): 2.26215716,
                 (0.975, 30): 2.04227246, (0.995, 10): 3.16927267, (0.95, 5): 2.01504837}
        for (p, df), want in table.items():
            with self.subTest(p=p, df=df):
                self.assertAlmostEqual(evaluate.t_ppf(p, df), want, places=6)
                self.assertAlmostEqual(evaluate.t_ppf(1 - p, df), -want, places=6)

    def test_mean_ci(self):
        mean, half = evaluate.mean_ci([1.0, 2.0, 3.0])
        self.assertAlmostEqual(mean, 2.0)
        self.assertAlmostEqual(half, 4.30265273 / math.sqrt(3), places=6)  # sd 1, t(0.975, 2)
        self.assertTrue(math.isnan(evaluate.mean_ci([5.0])[1]))
        self.assertEqual(evaluate.mean_ci([4.0, None, 4.0]), (4.0, 0.0))

    def test_paired_t_test(self):
        t = evaluate.paired_t_test([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])  # differences 1, 2, 3
        self.assertAlmostEqual(t["diff"], 2.0)
        self.assertAlmostEqual(t["t"], 2 * math.sqrt(3))
        self.assertEqual(t["df"], 2)
        cdf = 0.5 + t["t"] / (2 * math.sqrt(2 + t["t"] ** 2))
        self.assertAlmostEqual(t["p"], 2 * (1 - cdf), places=10)  # 0.0742
        self.assertFalse(t["significant"])
        t = evaluate.paired_t_test([1.0, 1.1, 0.9, 1.0, 1.05], [0, 0, 0, 0, 0])
        self.assertTrue(t["significant"])
        self.assertLess(t["p"], 1e-4)
        self.assertEqual(evaluate.paired_t_test([1, 2], [1, 2])["p"], 1.0)
        self.assertTrue(evaluate.paired_t_test([2, 3], [1, 2])["significant"])  # constant +1


def fake_result():
    rng = np.random.default_rng(0)
    arms = ["raw", "raw-balanced", "cleaned", "equalized", "no-S3"]
    runs = []
    for a, arm in enumerate(arms):
        for seed in (0, 1, 2):
            metrics = {key: float(min(1, 0.5 + 0.05 * a + rng.uniform(0, 0.02))) for key, _ in experiment_report.METRICS}
            metrics["rank1:100+"] = None
            metrics["acc10_std"] = 0.01
            curve = [{"images": n, "loss": 10 - n / 1000 - a, "tar": 0.2 + n / 10000 + 0.02 * a} for n in (1000, 2000, 3000)]
            runs.append({"arm": arm, "seed": seed, "metrics": metrics, "curve": curve, "train_seconds": 12.0})
    return {"name": "fake <set>", "command": "examples/experiment.py --fake", "config": {"budget": 3000},
            "arms": arms, "seeds": [0, 1, 2], "arm_docs": {a: f"what {a} is" for a in arms},
            "notes": ["a note"], "probes_by_bucket": {"1-4": 10}, "runs": runs}


class ReportTest(unittest.TestCase):
    def test_summary_and_markdown(self):
        result = fake_result()
        summary = experiment_report.summarize(result)
        self.assertEqual(set(summary["paired"]), {"raw-balanced", "cleaned", "equalized", "no-S3"})
        self.assertEqual(summary["arms"]["raw"]["rank1:100+"][2], 0)
        self.assertTrue(summary["paired"]["no-S3"]["auc"]["significant"])  # +0.2 on every seed
        md = experiment_report.markdown_tables(result, summary)
        self.assertIn("| equalized |", md)

    def test_report_renders_in_chromium(self):
        browser = shutil.which("chromium")
        if browser is None:
            self.skipTest("chromium is not installed (make setup installs it)")
        with tempfile.TemporaryDirectory() as tmp:
            experiment_report.write(fake_result(), tmp)
            with open(os.path.join(tmp, "report.html")) as f:
                page = f.read()
            self.assertEqual(page.count("<svg"), 2)
            self.assertNotIn("http://", page.replace('xmlns="http://www.w3.org/2000/svg"', ""))  # self-contained
            self.assertIn("fake &lt;set&gt;", page)
            shot = os.path.join(tmp, "shot.png")
            dom = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
                 f"--user-data-dir={tmp}/profile", "--dump-dom", "file://" + os.path.join(tmp, "report.html")],
                capture_output=True, text=True, timeout=90)
            self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
            self.assertEqual(dom.stdout.count("<svg"), 2)
            self.assertEqual(dom.stdout.count("<polyline"), 10)  # 5 arms x 2 plots
            subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
                 f"--user-data-dir={tmp}/profile", f"--screenshot={shot}", "--window-size=1200,900",
                 "file://" + os.path.join(tmp, "report.html")],
                capture_output=True, timeout=90, check=True)
            with Image.open(shot) as im:
                self.assertEqual(im.size, (1200, 900))
                colours = set(im.convert("RGB").getdata())
            # a blank or error page has a handful of colours; anti-aliased lines and text give hundreds
            self.assertGreater(len(colours), 100)


if __name__ == "__main__":
    unittest.main()
