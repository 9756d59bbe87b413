"""bench/peer/peers_report.py: tjbench's rates, per core and per CPU-second."""

import os
import sys
import tempfile
import unittest

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "bench", "peer"))
import peers_report  # noqa: E402


class TjbenchRateTest(unittest.TestCase):
    def test_rates(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            # file, frames/s, wall, user and system seconds: the first got half of its core.
            f.write("/x/a b.jpg 1000 1.3 0.6 0.05\n/x/c.jpg 500 1.0 0.9 0.1\n")
        try:
            per_core, per_cpu, fps = peers_report.tjbench_rate(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(fps, [1000, 500])
        self.assertAlmostEqual(per_core, 2 / (1 / 1000 + 1 / 500))  # decoding the files in turn
        self.assertAlmostEqual(per_cpu, 2 / (1 / 2000 + 1 / 500))


if __name__ == "__main__":
    unittest.main()
