"""Server-free tests: the NPY stream parser and to_device."""

import io
import unittest

import numpy as np
import numpy.lib.format as npy_format
import torch

import facestream
from facestream import stream


def npy_stream(batches, end=True):
    buf = io.BytesIO()
    for images, labels, ids in batches:
        for a in (images, labels, ids):
            npy_format.write_array(buf, a, version=(1, 0))
    if end:
        n = sum(len(b[1]) for b in batches)
        npy_format.write_array(buf, np.array([len(batches), n], dtype="<i8"), version=(1, 0))
    return buf.getvalue()


def batch(b, seed):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (b, 4, 5, 3), dtype=np.uint8), rng.integers(0, 9, b, dtype=np.int32),
            rng.integers(0, 1 << 40, b, dtype=np.int64))


class NpyParserTest(unittest.TestCase):
    def test_round_trip(self):
        want = [batch(3, 1), batch(3, 2)]
        got = list(stream._npy_batches(io.BufferedReader(io.BytesIO(npy_stream(want))), memory="plain"))
        self.assertEqual(len(got), 2)
        for (gi, gl, gd), (wi, wl, wd) in zip(got, want):
            np.testing.assert_array_equal(gi.numpy(), wi)
            np.testing.assert_array_equal(gl.numpy(), wl)
            np.testing.assert_array_equal(gd.numpy(), wd)

    def test_shared_memory_buffers(self):
        got = next(stream._npy_batches(io.BytesIO(npy_stream([batch(2, 3)])), memory="shared"))
        self.assertTrue(got[0].is_shared())

    def test_pinned_memory_buffers(self):
        if not torch.cuda.is_available():
            self.skipTest("page-locked memory needs CUDA")
        got = next(stream._npy_batches(io.BytesIO(npy_stream([batch(2, 3)])), memory="pinned"))
        self.assertTrue(got[0].is_pinned())

    def test_other_npy_versions_are_refused(self):
        data = bytearray(npy_stream([batch(2, 1)]))
        data[6] = 2  # version 2.0: a 4-byte header length the server never writes
        with self.assertRaisesRegex(facestream.StreamError, "NPY version"):
            list(stream._npy_batches(io.BytesIO(bytes(data)), memory="plain"))

    def test_every_truncation_is_detected(self):
        data = npy_stream([batch(2, 1), batch(2, 2)])
        for cut in range(0, len(data), 7):
            with self.subTest(cut=cut), self.assertRaises(stream.TruncatedStream):
                list(stream._npy_batches(io.BytesIO(data[:cut]), memory="plain"))

    def test_wrong_arrays_are_refused(self):
        images, labels, ids = batch(3, 1)
        for bad in ((images.astype(np.float32), labels, ids), (images, labels[:2], ids)):
            with self.subTest(dtype=bad[0].dtype, labels=len(bad[1])), self.assertRaises(facestream.StreamError):
                list(stream._npy_batches(io.BytesIO(npy_stream([bad])), memory="plain"))


class ToDeviceTest(unittest.TestCase):
    def test_normalises_to_nchw(self):
        images = torch.tensor([0, 127, 255], dtype=torch.uint8).repeat(2, 4, 5, 1)  # [2,4,5,3]
        x = facestream.to_device(images, "cpu")
        self.assertEqual((x.dtype, tuple(x.shape)), (torch.float32, (2, 3, 4, 5)))
        self.assertTrue(x.is_contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([-1.0, -0.5 / 127.5, 1.0]))

    def test_per_channel_mean_std_and_layout(self):
        images = torch.full((1, 2, 2, 3), 100, dtype=torch.uint8)
        x = facestream.to_device(images, "cpu", mean=(100, 50, 0), std=(1, 2, 4), channels_last=False)
        self.assertTrue(x.is_contiguous())
        torch.testing.assert_close(x[0, :, 1, 1], torch.tensor([0.0, 25.0, 25.0]))

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
    def test_cuda_matches_cpu(self):
        images = torch.randint(0, 256, (4, 8, 8, 3), dtype=torch.uint8).pin_memory()
        x = facestream.to_device(images, "cuda", dtype=torch.bfloat16)
        self.assertEqual((x.device.type, x.dtype), ("cuda", torch.bfloat16))
        torch.testing.assert_close(x.float().cpu(), facestream.to_device(images, "cpu"), atol=1e-2, rtol=1e-2)

    def test_refuses_floats(self):
        with self.assertRaises(ValueError):
            facestream.to_device(torch.zeros(1, 2, 2, 3), "cpu")


if __name__ == "__main__":
    unittest.main()


class StatusTest(unittest.TestCase):
    """A request the server can never serve (413) fails at once; a busy server (429) is retried."""

    def serve(self, status):
        import http.server
        import threading

        calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                calls.append(self.path)
                body = b'{"error": "a stream of batch 4096 needs more than the whole memory limit"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}", calls

    def read(self, url, retries):
        ds = facestream.StreamDataset(url, batch_size=4096, max_retries=retries, format="npy", rank=0, world=1)
        with self.assertRaises(facestream.StreamError) as caught:
            next(iter(ds))
        return str(caught.exception)

    def test_413_fails_at_once(self):
        url, calls = self.serve(413)
        message = self.read(url, retries=5)
        self.assertEqual(len(calls), 1, calls)
        self.assertIn("HTTP 413", message)
        self.assertIn("whole memory limit", message)

    def test_429_is_retried(self):
        url, calls = self.serve(429)
        self.read(url, retries=1)
        self.assertEqual(len(calls), 2, calls)
