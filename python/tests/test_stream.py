"""The Python client against a live server (python/with_server.sh provides it through FACESTREAM_URL,
FACESTREAM_BIN and FACESTREAM_DATASET): sharding across DataLoader workers and ranks versus
`facestream plan`, training on the stream, resume from state_dict, and reconnection after cuts."""

import json
import os
import socket
import subprocess
import sys
import threading
import unittest
import urllib.parse

import torch
import torch.nn as nn
import torch.nn.functional as F

import facestream
from facestream import stream

URL = os.environ.get("FACESTREAM_URL")
BIN = os.environ.get("FACESTREAM_BIN")
DATASET = os.environ.get("FACESTREAM_DATASET")
BATCH, SEED = 8, 7


def plan_ids(rank, world, epoch=0):
    out = subprocess.run(
        [BIN, "plan", DATASET, "--mode", "uniform", "--epoch", str(epoch), "--rank", str(rank),
         "--world", str(world), "--batch", str(BATCH), "--seed", str(SEED)],
        check=True, capture_output=True, text=True,
    ).stdout
    return [int(line) for line in out.split()]


def interleaved_plan(world, epoch=0):
    """The epoch as a reader of `world` sub-streams taken round-robin sees it."""
    per_rank = [plan_ids(r, world, epoch) for r in range(world)]
    batches = [[ids[i : i + BATCH] for i in range(0, len(ids), BATCH)] for ids in per_rank]
    return [i for group in zip(*batches) for batch in group for i in batch]


# One rank of a torch.distributed job (gloo over loopback): reads its share of the epoch
# with two DataLoader workers and prints the ids it got, in order.
RANK_SCRIPT = """
import json, sys, torch.distributed as dist, facestream
url, fmt, port, rank = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
dist.init_process_group("gloo", init_method="tcp://127.0.0.1:" + port, rank=rank, world_size=2)
ds = facestream.StreamDataset(url, %d, seed=%d, mode="uniform", format=fmt, return_ids=True)
ids = [i for _, _, b in facestream.StreamLoader(ds, num_workers=2) for i in b.tolist()]
dist.barrier()
print(json.dumps({"rank": ds.rank, "world": ds.world, "ids": ids}))
""" % (BATCH, SEED)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def collect(batches):
    return [(images, labels, ids) for images, labels, ids in batches]


def flat_ids(batches):
    return [i for _, _, ids in batches for i in ids.tolist()]


class CuttingProxy:
    """A loopback TCP proxy in front of the server that cuts its first `cuts` connections
    after `after` bytes of response, as a failing network or a killed server would."""

    def __init__(self, upstream, after, cuts):
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.after, self.cuts, self.connections = after, cuts, 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            with self.lock:
                self.connections += 1
                cut = self.cuts > 0
                self.cuts -= cut
            t = threading.Thread(target=self._serve, args=(client, cut), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, client, cut):
        upstream = socket.create_connection(self.upstream)
        requests = threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True)
        requests.start()
        self._pump(upstream, client, self.after if cut else None)
        requests.join()
        for s in (client, upstream):
            s.close()

    @staticmethod
    def _pump(src, dst, limit):
        """Copies src to dst (at most limit bytes); when either direction ends, both do."""
        sent = 0
        try:
            while limit is None or sent < limit:
                data = src.recv(65536 if limit is None else min(65536, limit - sent))
                if not data:
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)  # wakes the other direction's recv()
            except OSError:
                pass

    def close(self):
        """Stops accepting and waits for the threads: later tests fork DataLoader workers,
        which a process with stray threads should not do."""
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
        for t in self.threads:
            t.join(timeout=10)


@unittest.skipUnless(URL and BIN and DATASET, "needs a live server: run python/run_tests.sh")
class StreamTest(unittest.TestCase):
    FORMAT = "npy"

    @classmethod
    def dataset(cls, url=URL, **kw):
        args = dict(batch_size=BATCH, seed=SEED, mode="uniform", format=cls.FORMAT, return_ids=True)
        args.update(kw)
        return facestream.StreamDataset(url, **args)

    @classmethod
    def setUpClass(cls):
        cls.info = cls.dataset().info()
        cls.reference = collect(cls.dataset())  # one whole epoch, one stream

    def test_info(self):
        self.assertEqual(self.info["identities"], 40)
        self.assertEqual(self.info["image"], {"height": 32, "width": 32, "channels": 3})
        self.assertEqual(self.dataset().batches_per_epoch(num_workers=2), 2 * (self.info["dataset"]["samples"] // 16))

    def test_single_stream_equals_plan(self):
        self.assertEqual(flat_ids(self.reference), plan_ids(0, 1))
        images, labels, ids = self.reference[0]
        self.assertEqual((images.dtype, tuple(images.shape)), (torch.uint8, (BATCH, 32, 32, 3)))
        self.assertEqual((labels.dtype, ids.dtype), (torch.int64, torch.int64))

    def test_two_workers_stream_the_plan_of_two_ranks(self):
        batches = collect(facestream.StreamLoader(self.dataset(), num_workers=2))
        ids = flat_ids(batches)
        want = interleaved_plan(2)
        self.assertEqual(ids, want)
        self.assertEqual(len(set(ids)), len(ids), "an id came twice")
        samples = self.info["dataset"]["samples"]
        self.assertGreater(len(ids), samples - 2 * BATCH, "more than the remainder is missing")

    def test_distributed_ranks_times_workers_stream_the_plan_of_four(self):
        port = str(free_port())
        procs = [subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, URL, self.FORMAT, port, str(r)],
                                  stdout=subprocess.PIPE, text=True) for r in range(2)]
        outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
        self.assertEqual([p.returncode for p in procs], [0, 0])
        plan = [plan_ids(r, 4) for r in range(4)]
        for out in outs:
            r = out["rank"]
            self.assertEqual(out["world"], 2)
            mine = [plan[2 * r][i : i + BATCH] + plan[2 * r + 1][i : i + BATCH] for i in range(0, len(plan[0]), BATCH)]
            self.assertEqual(out["ids"], [i for pair in mine for i in pair], f"rank {r}")

    def test_weighted_mode_with_epoch_len_resumes(self):
        kw = dict(mode="weighted", epoch_len=100)
        self.assertEqual(self.dataset(**kw).batches_per_epoch(), 100 // BATCH)
        whole = collect(self.dataset(**kw))
        self.assertEqual(len(whole), 100 // BATCH)
        head, tail, _ = self.resume_after(5, 0, **kw)
        self.assertSameBatches(head + tail, whole)

    def test_info_describes_the_plan_of_the_datasets_epoch_and_seed(self):
        self.assertEqual(self.dataset(epoch=3).info(world=1, batch=BATCH)["plan"]["epoch"], 3)
        with self.assertRaisesRegex(facestream.StreamError, "HTTP 400.*seed"):  # the seed reaches the server
            self.dataset(seed=-1).info(world=1, batch=BATCH)

    def test_pk_mode_resumes_in_a_later_epoch(self):
        # 40 identities of quota 3 make 120/7 groups of K=7: the count of every epoch is 17 // P
        kw = dict(mode="pk", p=3, k=7, epoch=5, epochs=3, batch_size=21)
        per_epoch = self.dataset(**kw).batches_per_epoch()
        self.assertEqual({self.dataset(**dict(kw, epoch=e)).batches_per_epoch() for e in range(8)}, {per_epoch})
        whole = collect(self.dataset(**kw))
        self.assertEqual(len(whole), 3 * per_epoch)
        for _, labels, _ in whole:
            self.assertEqual(len(set(labels.tolist())), 3, "a pk batch of 3 identities x 7 photos")
        head, tail, _ = self.resume_after(per_epoch + 1, 0, **kw)
        self.assertSameBatches(head + tail, whole)

    def test_labels_are_stable_per_id_across_epochs(self):
        label_of = {}
        ds = self.dataset(epochs=2)
        batches = collect(ds)
        self.assertEqual(len(batches), 2 * (self.info["dataset"]["samples"] // BATCH))
        for _, labels, ids in batches:
            for i, label in zip(ids.tolist(), labels.tolist()):
                self.assertIn(label, range(40))
                self.assertEqual(label_of.setdefault(i, label), label, f"id {i} changed label")
        self.assertEqual(flat_ids(batches), plan_ids(0, 1, epoch=0) + plan_ids(0, 1, epoch=1))

    def test_tiny_model_trains(self):
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 40),
        ).to(memory_format=torch.channels_last)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        batches = [(images, labels) for images, labels, _ in self.reference[:4]]
        losses = []
        for _ in range(15):
            for images, labels in batches:
                loss = F.cross_entropy(model(facestream.to_device(images, "cpu")), labels)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
        first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
        self.assertLess(last, 0.5 * first, f"loss {first:.3f} -> {last:.3f}")

    def assertSameBatches(self, got, want):
        self.assertEqual(flat_ids(got), flat_ids(want))
        for (gi, gl, _), (wi, wl, _) in zip(got, want):
            self.assertTrue(torch.equal(gi, wi), "same position, different pixels")
            self.assertTrue(torch.equal(gl, wl))

    def resume_after(self, n, num_workers, read_ahead=0, **kw):
        """Reads n batches, saves the state, and resumes in a fresh dataset."""
        first = self.dataset(**kw)
        loader = facestream.StreamLoader(first, num_workers=num_workers, read_ahead=read_ahead)
        head = []
        for batch in loader:
            head.append(batch)
            if len(head) == n:
                break
        state = first.state_dict()
        del loader
        second = self.dataset(**kw)
        second.load_state_dict(state)
        return head, collect(facestream.StreamLoader(second, num_workers=num_workers, read_ahead=read_ahead)), state

    def test_resume_in_process(self):
        head, tail, state = self.resume_after(3, 0)
        self.assertEqual(state["batches"], 3)
        self.assertSameBatches(head + tail, self.reference)

    def test_read_ahead_streams_the_plan(self):
        loader = facestream.StreamLoader(self.dataset(), read_ahead=3)
        self.assertSameBatches(collect(loader), self.reference)
        self.assertFalse([t for t in threading.enumerate() if t.name == "facestream-read-ahead"], "reader left running")

    def test_resume_with_read_ahead_counts_delivered_batches(self):
        head, tail, state = self.resume_after(3, 0, read_ahead=4)
        self.assertEqual((state["batches"], state["streams"]), (3, 1))  # not the batches read ahead
        self.assertSameBatches(head + tail, self.reference)

    def test_read_ahead_raises_the_streams_error(self):
        proxy = CuttingProxy(URL, after=10, cuts=100)
        try:
            with self.assertRaisesRegex(facestream.StreamError, "failed 2 times"):
                collect(facestream.StreamLoader(self.dataset(proxy.url, max_retries=1), read_ahead=2))
        finally:
            proxy.close()

    def test_read_ahead_is_not_for_workers(self):
        with self.assertRaisesRegex(ValueError, "not both"):
            facestream.StreamLoader(self.dataset(), num_workers=2, read_ahead=2)

    def test_resume_with_workers_mid_round(self):
        whole = collect(facestream.StreamLoader(self.dataset(), num_workers=2))
        head, tail, state = self.resume_after(5, 2)  # odd: the next batch is worker 1's
        self.assertEqual((state["batches"], state["streams"]), (5, 2))
        self.assertSameBatches(head + tail, whole)

    def test_resume_across_epochs(self):
        per_epoch = len(self.reference)
        head, tail, _ = self.resume_after(per_epoch + 2, 0, epochs=2)
        self.assertEqual(len(head) + len(tail), 2 * per_epoch)
        self.assertSameBatches(head[:per_epoch], self.reference)
        self.assertEqual(flat_ids(head + tail)[per_epoch * BATCH:], plan_ids(0, 1, epoch=1))

    def test_set_epoch_of_a_loaded_state_continues_it(self):
        # The README's loop: load_state_dict, then set_epoch(epoch) for the state's epoch on.
        whole = collect(self.dataset(epochs=2))
        for workers in (0, 2):
            with self.subTest(num_workers=workers):
                head, _, state = self.resume_after(3, workers)
                ds = self.dataset()
                ds.load_state_dict(state)
                got = []
                for epoch in range(state["epoch"], 2):
                    ds.set_epoch(epoch)
                    got += collect(facestream.StreamLoader(ds, num_workers=workers))
                    self.assertEqual(ds.state_dict()["epoch"], epoch)
                mine = head + got
                if workers:  # two sub-streams taken round-robin: each epoch is the plan of two ranks
                    self.assertEqual(flat_ids(mine), interleaved_plan(2, 0) + interleaved_plan(2, 1))
                else:
                    self.assertSameBatches(mine, whole)

    def test_set_epoch_of_another_epoch_drops_a_loaded_state(self):
        _, _, state = self.resume_after(3, 0)
        ds = self.dataset()
        ds.load_state_dict(state)
        ds.set_epoch(1)
        self.assertEqual(flat_ids(collect(ds)), plan_ids(0, 1, epoch=1))
        ds.set_epoch(1)  # after an iteration, the same epoch starts over
        self.assertEqual(flat_ids(collect(ds)), plan_ids(0, 1, epoch=1))

    def test_state_of_another_stream_is_refused(self):
        state = self.dataset().state_dict()
        with self.assertRaisesRegex(ValueError, "batch_size"):
            self.dataset(batch_size=BATCH * 2).load_state_dict(state)
        _, _, state = self.resume_after(2, 2)
        ds = self.dataset()
        ds.load_state_dict(state)
        with self.assertRaisesRegex(ValueError, "same number"):
            next(iter(facestream.StreamLoader(ds, num_workers=1)))

    def test_reconnects_after_cut_connections(self):
        image_bytes = BATCH * 32 * 32 * 3
        proxy = CuttingProxy(URL, after=2 * image_bytes + 500, cuts=2)  # mid-batch
        try:
            got = collect(self.dataset(proxy.url))
        finally:
            proxy.close()
        self.assertSameBatches(got, self.reference)
        self.assertEqual(proxy.connections, 3)
        self.assertFalse([t for t in proxy.threads if t.is_alive()], "proxy threads left running")

    def test_gives_up_after_max_retries(self):
        proxy = CuttingProxy(URL, after=10, cuts=100)
        try:
            with self.assertRaisesRegex(facestream.StreamError, "failed 3 times"):
                collect(self.dataset(proxy.url, max_retries=2))
        finally:
            proxy.close()
        self.assertEqual(proxy.connections, 3)

    def test_bearer_token(self):
        server = subprocess.Popen([BIN, "serve", DATASET, "--addr", "127.0.0.1:0", "--size", "32", "--token", "s3cret"],
                                  stderr=subprocess.PIPE, text=True)
        try:
            for line in server.stderr:
                if " on http://" in line:
                    url = line.split(" on ")[-1].strip()
                    break
            else:
                self.fail("the token server printed no URL")
            with self.assertRaisesRegex(facestream.StreamError, "HTTP 401"):
                next(iter(self.dataset(url)))
            got = collect(self.dataset(url, token="s3cret"))
            self.assertEqual(flat_ids(got), flat_ids(self.reference))
        finally:
            server.terminate()
            server.wait()
            server.stderr.close()

    def test_bad_parameters_fail_fast_with_the_servers_message(self):
        for kw, word in ((dict(batch_size=1 << 20), "batch"), (dict(mode="nope"), "mode")):
            with self.subTest(**kw):
                with self.assertRaisesRegex(facestream.StreamError, f"HTTP 400.*{word}"):
                    next(iter(self.dataset(**kw)))


@unittest.skipUnless(URL and BIN and DATASET, "needs a live server: run python/run_tests.sh")
@unittest.skipUnless(stream.pa is not None, "pyarrow is not installed")
class ArrowStreamTest(StreamTest):
    """The same checks through the Arrow format (pyarrow.ipc)."""

    FORMAT = "arrow"


if __name__ == "__main__":
    unittest.main()
