"""Several servers behind one StreamDataset: sub-streams spread over them, a server killed
mid-epoch is replaced by another with the same bytes, and servers that disagree are refused."""

import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import facestream
from facestream import stream
from tests.test_stream import BATCH, BIN, DATASET, SEED, URL, CuttingProxy, collect, flat_ids, interleaved_plan, plan_ids


def start_server(dataset=DATASET, size=32):
    """A facestream server of its own on a free port: (process, url)."""
    server = subprocess.Popen([BIN, "serve", dataset, "--addr", "127.0.0.1:0", "--size", str(size)],
                              stderr=subprocess.PIPE, text=True)
    for line in server.stderr:
        if " on http://" in line:
            server.drain = threading.Thread(target=server.stderr.read, daemon=True)  # keeps its pipe from filling
            server.drain.start()
            return server, line.split(" on ")[-1].strip()
    server.wait()
    server.stderr.close()
    raise RuntimeError(f"facestream serve exited with {server.returncode} before serving")


def stop(server):
    server.kill()
    server.wait()
    server.drain.join(timeout=10)  # reads to the end of the dead server's pipe
    server.stderr.close()


def batches_sent(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("facestream_batches_sent_total "):
                return int(float(line.split()[1]))
    return 0


class KillingProxy(CuttingProxy):
    """Forwards to a server until `after` bytes of the first /v1/stream response have passed,
    then SIGKILLs the server and stops listening: the server dies mid-epoch, mid-batch."""

    def __init__(self, server, url, after):
        self.server = server
        self.cut_at = self.killed_at = None
        super().__init__(url, after, cuts=0)

    def _serve(self, client, cut):
        with client, socket.create_connection(self.upstream) as upstream:
            request = client.recv(65536)
            upstream.sendall(request)
            doomed = request.startswith(b"GET /v1/stream") and self.killed_at is None
            requests = threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True)
            requests.start()
            self._pump(upstream, client, self.after if doomed else None)
            if doomed:
                self.cut_at = time.monotonic()
                stop(self.server)
                self.killed_at = time.monotonic()
                self.close_listener()  # a dead host: connections are refused from now on
            requests.join()

    def close_listener(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:  # already shut
            pass
        self.listener.close()

    def close(self):
        self.close_listener()
        for t in self.threads:
            t.join(timeout=10)


@unittest.skipUnless(URL and BIN and DATASET, "needs a live server: run python/run_tests.sh")
class FailoverTest(unittest.TestCase):
    FORMAT = "npy"

    def dataset(self, url, **kw):
        args = dict(batch_size=BATCH, seed=SEED, mode="uniform", format=self.FORMAT, return_ids=True)
        args.update(kw)
        return facestream.StreamDataset(url, **args)

    def setUp(self):
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            if server.poll() is None:
                stop(server)

    def start(self, **kw):
        server, url = start_server(**kw)
        self.servers.append(server)
        return server, url

    def test_server_killed_mid_epoch_fails_over_with_the_same_bytes(self):
        reference = collect(self.dataset(URL))
        doomed, doomed_url = self.start()
        _, spare = self.start()
        proxy = KillingProxy(doomed, doomed_url, after=3 * BATCH * 32 * 32 * 3 + 700)  # inside the 4th batch
        try:
            got, resumed_at = [], None
            for batch in self.dataset([proxy.url, spare]):
                got.append(batch)
                if len(got) == 4:  # the batch the kill cut, from the spare server
                    resumed_at = time.monotonic()
        finally:
            proxy.close()
        self.assertIsNotNone(proxy.killed_at, "the server was never killed")
        self.assertIsNotNone(doomed.poll(), "the killed server still runs")
        self.assertEqual(flat_ids(got), plan_ids(0, 1), "samples lost or repeated")
        self.assertEqual(len(got), len(reference))
        for (gi, gl, _), (ri, rl, _) in zip(got, reference):
            self.assertTrue(gi.equal(ri) and gl.equal(rl), "a batch after the failover differs")
        self.assertGreater(batches_sent(spare), 0)
        print(f"\n  failover: the cut batch came whole from the spare server {1000 * (resumed_at - proxy.cut_at):.0f} ms "
              "after the connection broke", flush=True)

    def test_sub_streams_spread_over_the_servers(self):
        _, a = self.start()
        _, b = self.start()
        got = list(facestream.StreamLoader(self.dataset([a, b]), num_workers=2))
        self.assertEqual(flat_ids(got), interleaved_plan(2))
        self.assertGreater(batches_sent(a), 0)
        self.assertGreater(batches_sent(b), 0)

    def test_servers_that_disagree_are_refused(self):
        _, small = self.start(size=24)
        with self.assertRaisesRegex(facestream.StreamError, "does not serve what.*image"):
            next(iter(self.dataset([URL, small])))

        work = self.enterContext(tempfile.TemporaryDirectory())
        subprocess.run([BIN, "synth", "--out", work + "/syn", "--identities", "6", "--seed", "2", "--size", "32"],
                       check=True, capture_output=True)
        subprocess.run([BIN, "import", "imagefolder", work + "/syn/images", "--out", work + "/ds"],
                       check=True, capture_output=True)
        _, other = self.start(dataset=work + "/ds")
        with self.assertRaisesRegex(facestream.StreamError, "does not serve what.*fingerprint"):
            next(iter(self.dataset([URL, other])))

    def test_a_dead_server_in_the_list_is_skipped(self):
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}"
        got = collect(self.dataset([dead, URL]))
        self.assertEqual(flat_ids(got), plan_ids(0, 1))

    def test_gives_up_when_every_server_fails(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}"
        with self.assertRaisesRegex(facestream.StreamError, r"failed 3 times .*on 2 server"):
            next(iter(self.dataset([dead, dead], max_retries=1)))

    def test_a_silent_server_costs_one_short_probe(self):
        silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
        try:
            ds = self.dataset([URL, f"http://127.0.0.1:{silent.getsockname()[1]}"], rank=0, world=2, timeout=30)
            ds._PROBE_TIMEOUT = 0.5
            for epoch in range(2):
                ds.set_epoch(epoch)
                start = time.monotonic()
                next(iter(ds))
                waited = time.monotonic() - start
                self.assertLess(waited, 5 if epoch == 0 else 0.4, f"epoch {epoch}: first batch after {waited:.1f} s")
        finally:
            silent.close()

    def test_max_retries_zero_still_fails_over(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}"
        got = collect(self.dataset([dead, URL], max_retries=0))
        self.assertEqual(flat_ids(got), plan_ids(0, 1))


@unittest.skipUnless(URL and BIN and DATASET, "needs a live server: run python/run_tests.sh")
@unittest.skipUnless(stream.pa is not None, "pyarrow is not installed")
class ArrowFailoverTest(FailoverTest):
    FORMAT = "arrow"


if __name__ == "__main__":
    unittest.main()
