"""The training stream of a facestream server as a PyTorch IterableDataset."""

import collections
import concurrent.futures
import http.client
import io
import json
import queue
import threading
import time
import urllib.parse
import warnings

import numpy as np
import numpy.lib.format as npy_format
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

try:
    import pyarrow as pa
    import pyarrow.ipc as pa_ipc
except ImportError:  # the NPY format needs nothing beyond numpy
    pa = None

__all__ = ["StreamDataset", "StreamLoader", "StreamError", "TruncatedStream"]

_STATE_VERSION = 1
# Parameters that define the stream; a state from a different stream cannot resume this one.
_STATE_KEYS = ("batch_size", "seed", "mode", "profile", "epochs", "pad", "epoch_len", "p", "k")


class StreamError(Exception):
    """The server refused the request, or the stream could not be read after the allowed retries."""


class TruncatedStream(Exception):
    """The stream ended before its end marker: the connection was cut."""


class StreamDataset(IterableDataset):
    """A facestream server's `GET /v1/stream` as a `torch.utils.data.IterableDataset`.

    Each item is one training batch exactly as the server's plan orders it:
    ``(images, labels)`` with ``images`` a uint8 tensor [B,H,W,C] (augmented by
    the server) and ``labels`` an int64 tensor [B]; with ``return_ids=True``,
    ``(images, labels, ids)`` with the int64 sample ids.

    Sharding is automatic. The rank and world size come from ``torch.distributed``
    when it is initialised as the dataset is built (else rank 0 of 1; ``rank`` and
    ``world`` override both). In a DataLoader with
    ``num_workers=k``, worker w of rank r reads sub-stream ``r*k + w`` of ``world*k``,
    so the workers of all ranks together read every batch of the epoch exactly
    once. Batches are already formed by the server: use ``batch_size=None``, or
    better :class:`StreamLoader`, which also counts delivered batches for
    :meth:`state_dict`::

        ds = facestream.StreamDataset("http://127.0.0.1:8080", batch_size=256, epoch=0)
        for images, labels in facestream.StreamLoader(ds, num_workers=4, pin_memory=True):
            x = facestream.to_device(images, "cuda")   # float NCHW, normalised on the GPU
            ...

    Resume: :meth:`state_dict` after any batch, and :meth:`load_state_dict` on a
    new dataset built with the same arguments, continue with exactly the next
    batch, the same images and the same augmentation (the server seeds every
    image by (seed, epoch, position)). A cut connection is resumed the same way,
    transparently, from the last whole batch (up to ``max_retries`` attempts in a
    row, with exponential back-off).

    Several servers of the same dataset (``url`` a list) share the sub-streams:
    sub-stream s reads from server ``s % len(url)``, and when a server fails the
    sub-stream resumes from its last whole batch on the next one, with the same
    bytes (plans and augmentation depend only on the request). Servers that do not
    hold the same dataset (``/v1/info`` fingerprint), image size or defaults are
    refused.

    Args:
        url: the server, e.g. ``http://127.0.0.1:8080`` (https works too), or a list
            of servers of the same dataset.
        batch_size: images per batch.
        epoch: the (first) epoch to stream; see also :meth:`set_epoch`.
        seed: the plan and augmentation seed; every rank must use the same.
        mode: ``uniform``, ``balanced``, ``weighted`` or ``pk`` (None: the
            dataset's default).
        profile: online augmentation profile (None: the server's default).
        token: bearer token, when the server runs with ``--token``.
        format: ``arrow`` (needs pyarrow) or ``npy``; None picks arrow when
            pyarrow is importable, else npy.
        epochs: epochs streamed back to back from ``epoch``; 0 streams forever.
        timeout: seconds to wait for a connection or for the next bytes.
        return_ids: also yield the sample ids.
        pad: wrap around to fill the last batches instead of dropping the remainder.
        max_retries: reconnections in a row without progress before giving up.
        rank, world: this process's share of the epoch, when not torch.distributed's.
        epoch_len: draws per epoch in ``weighted`` mode (None: the number of samples).
        p, k: identities per batch and photos per identity in ``pk`` mode (p*k == batch_size).
        pin_memory: read the images straight from the socket into page-locked memory when the
            dataset is iterated in the trainer's process (``num_workers=0``) and CUDA is
            available, so that ``to_device`` copies them with ``non_blocking=True`` and nothing
            else touches them (NPY: no copy at all between the socket and the GPU). DataLoader
            workers ignore it: page-locked memory does not cross processes; their batches come
            in shared memory, for the DataLoader's own ``pin_memory``.
    """

    def __init__(self, url, batch_size, epoch=0, seed=0, mode=None, profile=None, token=None, format=None,
                 epochs=1, timeout=60.0, return_ids=False, pad=False, max_retries=5, rank=None, world=None,
                 epoch_len=None, p=None, k=None, pin_memory=False):
        super().__init__()
        # Read here, in the trainer's process: DataLoader workers started by spawn
        # do not inherit the process group.
        dist_rank, dist_world = _rank_world()
        self.rank = dist_rank if rank is None else rank
        self.world = dist_world if world is None else world
        if not 0 <= self.rank < self.world:
            raise ValueError(f"rank {self.rank} outside world {self.world}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if epochs < 0:
            raise ValueError(f"epochs must be >= 0 (0 streams forever), got {epochs}")
        if format is None:
            format = "arrow" if pa is not None else "npy"
        if format not in ("arrow", "npy"):
            raise ValueError(f"format must be 'arrow' or 'npy', got {format!r}")
        if format == "arrow" and pa is None:
            raise ValueError("format='arrow' needs pyarrow; install it or use format='npy'")
        urls = [url] if isinstance(url, str) else list(url)
        if not urls:
            raise ValueError("url: want a server URL or a list of them")
        self._servers = [_parse_server(u) for u in urls]
        self.urls = urls
        self.url = urls[0]
        self.batch_size, self.epoch, self.seed = batch_size, epoch, seed
        self.mode, self.profile, self.token, self.format = mode, profile, token, format
        self.epochs, self.timeout, self.return_ids, self.pad = epochs, timeout, return_ids, bool(pad)
        self.max_retries = max_retries
        self.epoch_len, self.p, self.k = epoch_len, p, k
        self.pin_memory = bool(pin_memory)
        self._resume = 0  # batches of this rank already consumed, counted from (epoch, start 0)
        self._delivered = 0  # batches delivered to the trainer so far, same origin
        self._streams = None  # sub-streams per rank the counts refer to (DataLoader workers, or 1)
        self._loaded = False  # a state was loaded and no iteration has begun since
        self._reference = None  # what every server must agree on (_identity), once one has answered
        self._verified = set()  # indexes of the servers that agree with it, in this process
        self._unanswered = set()  # indexes of the servers the start-of-stream check found silent

    # ----- resume ---------------------------------------------------------------------------

    def set_epoch(self, epoch):
        """Starts the next iteration at the beginning of `epoch` (like DistributedSampler.set_epoch).

        Right after :meth:`load_state_dict`, the epoch of the state keeps its resume
        point, so that ``for epoch in range(state["epoch"], E): ds.set_epoch(epoch)``
        continues the interrupted epoch instead of repeating its trained batches.
        """
        if self._loaded and epoch == self.epoch:
            return
        self.epoch, self._resume, self._delivered, self._loaded = epoch, 0, 0, False

    def state_dict(self):
        """Where the trainer is: enough to continue with exactly the next batch.

        The count is of batches delivered to the trainer: by iterating the dataset
        directly, or through :class:`StreamLoader` (a plain DataLoader with workers
        cannot report them; its workers run in other processes).
        """
        state = {"version": _STATE_VERSION, "epoch": self.epoch, "batches": self._delivered,
                 "streams": self._streams or 1}
        state.update({k: getattr(self, k) for k in _STATE_KEYS})
        return state

    def load_state_dict(self, state):
        """Continues from a :meth:`state_dict` of a dataset with the same stream arguments."""
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported facestream state version {state.get('version')!r}")
        diff = {k: (state[k], getattr(self, k)) for k in _STATE_KEYS if state[k] != getattr(self, k)}
        if diff:
            raise ValueError(f"state is of another stream (saved, here): {diff}")
        self.epoch = state["epoch"]
        self._resume = self._delivered = state["batches"]
        self._streams = state["streams"] if state["batches"] else None
        self._loaded = True

    def _begin(self, streams):
        """Fixes the number of sub-streams of this rank before an iteration starts."""
        if self._resume and self._streams not in (None, streams):
            raise ValueError(f"the state was saved reading {self._streams} sub-streams per rank (DataLoader "
                             f"workers); resume with the same number, not {streams}")
        self._streams = streams
        self._delivered = self._resume
        self._loaded = False

    # ----- iteration ------------------------------------------------------------------------

    def __iter__(self):
        worker = get_worker_info()
        in_main = worker is None
        k, w = (1, 0) if in_main else (worker.num_workers, worker.id)
        if in_main:
            self._begin(1)
        elif self._streams not in (None, k):
            raise ValueError(f"dataset prepared for {self._streams} sub-streams, read by {k} workers: "
                             "use StreamLoader, or the same num_workers as the saved state")
        n = self._resume
        # The DataLoader takes batches from its workers round-robin, starting at worker 0;
        # rotating which sub-stream each worker reads makes a resumed run take the
        # next batch from the sub-stream an uninterrupted run would have.
        sub = (w + n % k) % k
        done = max(0, (n - sub + k - 1) // k)  # batches of sub-stream `sub` among the first n
        if not in_main:
            memory = "shared"
        elif self.pin_memory and torch.cuda.is_available():
            memory = "pinned"
        else:
            memory = "plain"
        for item in self._read(self.rank * k + sub, self.world * k, done, memory):
            if in_main:
                self._delivered += 1
            yield item

    def _read(self, rank, world, done, memory):
        """Yields the batches of sub-stream (rank, world) after its first `done`, reconnecting on a cut."""
        per_epoch = None  # this sub-stream's batches per epoch, once the server has said
        failures = 0
        at = rank % len(self._servers)  # spreads the sub-streams over the servers
        if len(self._servers) > 1:
            self._check_servers()
        while True:
            conn = None
            server = self._servers[at]
            try:
                self._verify(at)
                if per_epoch is None and done:  # resuming: position -> (epoch, start) needs it
                    per_epoch = self._batches_per_rank(world, server)
                if per_epoch is not None and (per_epoch == 0 or (self.epochs and done >= per_epoch * self.epochs)):
                    return
                skipped, start = divmod(done, per_epoch) if per_epoch else (0, done)  # whole epochs read, batches
                epochs = self.epochs - skipped if self.epochs else 0
                query = self._query(rank=rank, world=world, batch=self.batch_size, start=start * self.batch_size,
                                    format=self.format, epochs=epochs, profile=self.profile,
                                    **self._plan_params(self.epoch + skipped))
                conn, resp = self._get(server, "/v1/stream", query)
                per_epoch = _header_int(resp, "X-Facestream-Batches-Per-Epoch")
                decode = _arrow_batches if self.format == "arrow" else _npy_batches
                for images, labels, ids in decode(resp, memory):
                    done += 1
                    failures = 0
                    labels = labels.long()
                    yield (images, labels, ids) if self.return_ids else (images, labels)
                if not epochs or done < per_epoch * self.epochs:
                    raise TruncatedStream(f"stream ended after {done} of {per_epoch * self.epochs} batches")
                return
            except (OSError, http.client.HTTPException, TruncatedStream, _RetryableStatus) + _ARROW_ERRORS as err:
                failures += 1
                servers = len(self._servers)
                # max_retries=0 still tries every other server once: failing over is not a retry.
                if failures > max(self.max_retries * servers, servers - 1):
                    raise StreamError(f"sub-stream {rank} of {world} failed {failures} times in a row at batch "
                                      f"{done} on {servers} server(s); the last, {server.url}: {err}") from err
                at = (at + 1) % servers  # the next server takes over at once; a whole round failed: back off
                if failures % servers == 0:
                    time.sleep(min(8.0, 0.25 * 2 ** (failures // servers - 1)))
            finally:
                if conn is not None:
                    conn.close()

    # ----- HTTP -----------------------------------------------------------------------------

    def info(self, world=None, batch=None, server=None, timeout=None):
        """The `/v1/info` JSON of a server (the first that answers when not given); with world
        and batch, it includes the plan of this dataset's mode, epoch and seed for them (epoch
        length, batches per rank)."""
        plan = self._plan_params(self.epoch) if world else {"mode": self.mode}
        query = self._query(world=world, batch=batch, **plan)
        for i, candidate in enumerate([server] if server else self._servers):
            try:
                conn, resp = self._get(candidate, "/v1/info", query, timeout)
                try:
                    return json.loads(resp.read())
                except ValueError as err:
                    raise StreamError(f"{candidate.url}/v1/info: not JSON: {err}") from None
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException, _RetryableStatus):
                if server or i == len(self._servers) - 1:
                    raise

    def batches_per_epoch(self, num_workers=0):
        """Batches one rank receives per epoch when read by `num_workers` DataLoader workers."""
        k = max(1, num_workers)
        return k * self._batches_per_rank(self.world * k)

    def _batches_per_rank(self, world, server=None):
        return int(self.info(world=world, batch=self.batch_size, server=server)["plan"]["batches_per_rank"])

    def _identity(self, server, info):
        """What servers of one stream must agree on for the same request to give the same bytes."""
        try:
            ident = {"fingerprint": info["dataset"]["fingerprint"], "image": info["image"]}
            if self.profile is None:
                ident["default_profile"] = info["default_profile"]
            if self.mode is None:
                ident["default_mode"] = info["default_mode"]
        except (KeyError, TypeError) as err:
            raise StreamError(f"{server.url}/v1/info lacks {err}: not a facestream server this client can "
                              "check against the others") from None
        return ident

    # Seconds the start-of-stream check waits for each server, all at once: a silent server costs
    # this once, not the read timeout in every worker and epoch.
    _PROBE_TIMEOUT = 5.0

    def _check_servers(self):
        """Asks every server, at once, what it serves, and refuses servers that disagree. One that
        does not answer is not asked again here; it is checked if a sub-stream fails over to it."""
        pending = [at for at in range(len(self._servers)) if at not in self._verified | self._unanswered]
        if not pending:
            return
        timeout = min(self.timeout, self._PROBE_TIMEOUT)

        def probe(at):
            try:
                return self.info(server=self._servers[at], timeout=timeout)
            except (OSError, http.client.HTTPException, _RetryableStatus):
                return None

        with concurrent.futures.ThreadPoolExecutor(len(pending)) as pool:
            infos = list(pool.map(probe, pending))
        for at, info in zip(pending, infos):
            if info is None:
                self._unanswered.add(at)
            else:
                self._accept(at, info)

    def _verify(self, at):
        """Makes sure server `at` agrees with the others (a no-op for a single server)."""
        if len(self._servers) == 1 or at in self._verified:
            return
        self._accept(at, self.info(server=self._servers[at]))

    def _accept(self, at, info):
        """Adds server `at`, which answered info, to the verified ones, or refuses it."""
        ident = self._identity(self._servers[at], info)
        if self._reference is None:
            self._reference = (self._servers[at].url, ident)
        ref_url, ref = self._reference
        if ident != ref:
            diff = {k: (ref.get(k), ident.get(k)) for k in ref.keys() | ident.keys() if ref.get(k) != ident.get(k)}
            raise StreamError(f"{self._servers[at].url} does not serve what {ref_url} serves ({ref_url}, "
                              f"{self._servers[at].url}): {diff}; every server of one stream must hold the same "
                              "dataset with the same image size and defaults")
        self._verified.add(at)

    def _plan_params(self, epoch):
        """The parameters that shape the plan of `epoch` (what /v1/info and /v1/stream both take)."""
        return dict(mode=self.mode, epoch=epoch, seed=self.seed, pad=int(self.pad), epoch_len=self.epoch_len,
                    p=self.p, k=self.k)

    def _query(self, **params):
        return urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})

    def _get(self, server, path, query, timeout=None):
        cls = http.client.HTTPSConnection if server.scheme == "https" else http.client.HTTPConnection
        conn = cls(server.netloc, timeout=timeout or self.timeout)
        try:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            conn.request("GET", f"{server.prefix}{path}?{query}", headers=headers)
            resp = conn.getresponse()
            if resp.status != 200:
                body = resp.read(64 << 10)
                try:
                    message = json.loads(body)["error"]
                except (ValueError, KeyError, TypeError):
                    message = body.decode("utf-8", "replace").strip()
                err = f"{server.url}{path}: HTTP {resp.status}: {message}"
                if resp.status == 429 or resp.status >= 500:
                    raise _RetryableStatus(err)
                raise StreamError(err)
            return conn, resp
        except BaseException:
            conn.close()
            raise


class StreamLoader(DataLoader):
    """A DataLoader for a :class:`StreamDataset`: ``batch_size=None`` and batch counting.

    Counting the batches handed to the trainer, in the trainer's process, is what
    lets ``dataset.state_dict()`` name the exact resume point when the batches come
    from worker processes. Other DataLoader arguments (``pin_memory``,
    ``prefetch_factor``, ``timeout``...) pass through; persistent workers do not
    fit a stream that restarts from the resume point each time and are refused.

    ``read_ahead=n`` (with ``num_workers=0``) reads the stream in a thread of the
    trainer's process, up to n batches ahead, instead of in worker processes: the
    socket's bytes land once in the batch tensor (page-locked with ``pin_memory=True``
    and CUDA), with no shared-memory segment, no hand-over between processes and no
    pinning copy, at a fraction of the workers' CPU per batch. The thread waits in
    the socket with the GIL released; the server does the decoding, so one reader
    keeps up with it. ``state_dict()`` still counts only the batches delivered.
    """

    def __init__(self, dataset, num_workers=0, read_ahead=0, **kwargs):
        if not isinstance(dataset, StreamDataset):
            raise TypeError(f"StreamLoader reads a StreamDataset, not {type(dataset).__name__}")
        if kwargs.get("persistent_workers"):
            raise ValueError("StreamLoader does not support persistent_workers")
        if kwargs.pop("batch_size", None) is not None:
            raise ValueError("the server forms the batches: set batch_size on the StreamDataset")
        if read_ahead < 0 or (read_ahead and num_workers):
            raise ValueError(f"read_ahead={read_ahead} with num_workers={num_workers}: read ahead in a thread "
                             "(num_workers=0) or in worker processes, not both")
        super().__init__(dataset, batch_size=None, num_workers=num_workers, **kwargs)
        self.read_ahead = read_ahead

    def __iter__(self):
        ds = self.dataset
        if self.read_ahead:
            yield from self._read_ahead()
            return
        if self.num_workers == 0:  # the dataset runs here and counts for itself
            yield from super().__iter__()
            return
        ds._begin(self.num_workers)
        for batch in super().__iter__():
            ds._delivered += 1
            yield batch

    def _read_ahead(self):
        """The dataset's one sub-stream, read by a thread up to read_ahead batches ahead."""
        ds = self.dataset
        ds._begin(1)
        pinned = (ds.pin_memory or self.pin_memory) and torch.cuda.is_available()
        batches = ds._read(ds.rank, ds.world, ds._resume, "pinned" if pinned else "plain")
        ahead = queue.Queue(self.read_ahead)
        stop = threading.Event()

        def read():
            try:
                for batch in batches:
                    if not _put(ahead, batch, stop):
                        return
                _put(ahead, _END, stop)
            except BaseException as err:  # handed to the trainer, raised there
                _put(ahead, _Failed(err), stop)
            finally:
                batches.close()  # the connection, once the batch being read has come or the read failed

        reader = threading.Thread(target=read, name="facestream-read-ahead", daemon=True)
        reader.start()
        item = None
        try:
            while True:
                item = ahead.get()
                if item is _END:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                ds._delivered += 1
                yield item
        finally:
            stop.set()
            if item is _END or isinstance(item, _Failed):
                reader.join()  # it is finishing; a trainer that stopped early does not wait for its last read


_END = object()  # the stream's end, from the read-ahead thread


class _Failed:
    """An exception of the read-ahead thread, for the trainer's thread to raise."""

    def __init__(self, error):
        self.error = error


def _put(q, item, stop):
    """Puts item in q unless stop is set first; False when stopped."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


class _RetryableStatus(Exception):
    """429 (stream limit) or 5xx: worth another try after a pause."""


_ARROW_ERRORS = (pa.ArrowException,) if pa is not None else ()


_Server = collections.namedtuple("_Server", "url scheme netloc prefix")


def _parse_server(url):
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must be http(s)://host[:port][/prefix], got {url!r}")
    return _Server(url, parts.scheme, parts.netloc, parts.path.rstrip("/"))


def _rank_world():
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _header_int(resp, name):
    value = resp.getheader(name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StreamError(f"response lacks a valid {name} header: {value!r}") from None


def _alloc(shape, dtype, memory):
    """A tensor to read into, in `memory`: "shared" in a DataLoader worker, so that passing it to
    the trainer's process copies nothing; "pinned" (page-locked) for a non-blocking copy to the GPU;
    else "plain"."""
    if memory == "pinned":
        return torch.empty(shape, dtype=dtype, pin_memory=True)  # from torch's caching host allocator
    if memory == "shared":
        # Straight into a new shared segment; share_memory_() would allocate, then copy the
        # (empty) bytes over.
        nbytes = int(np.prod(shape)) * torch.empty((), dtype=dtype).element_size()
        return torch.empty(0, dtype=dtype).set_(torch.UntypedStorage._new_shared(nbytes), 0, shape)
    return torch.empty(shape, dtype=dtype)


_TORCH_DTYPES = {np.dtype("uint8"): torch.uint8, np.dtype("<i4"): torch.int32, np.dtype("<i8"): torch.int64}


_NPY_MAGIC = npy_format.magic(1, 0)
_NPY_HEADERS = {}  # header text -> (shape, torch dtype): a stream repeats a handful of headers
_NPY_HEADERS_MAX = 64


def _npy_header(fp):
    """Reads an NPY v1.0 header: (shape, torch dtype). numpy parses a header with Python's tokenizer,
    which cost more CPU than the image bytes; each distinct header is parsed once."""
    prefix = _read_exactly(fp, len(_NPY_MAGIC) + 2, "NPY header")
    if prefix[:len(_NPY_MAGIC)] != _NPY_MAGIC:
        if prefix[:6] == _NPY_MAGIC[:6]:
            raise StreamError(f"NPY version {tuple(prefix[6:8])} in stream, want (1, 0)")
        raise TruncatedStream(f"NPY header: bad magic {bytes(prefix[:6])!r}")
    header = _read_exactly(fp, int.from_bytes(prefix[-2:], "little"), "NPY header")
    parsed = _NPY_HEADERS.get(header)
    if parsed is None:
        try:
            shape, fortran, dtype = npy_format.read_array_header_1_0(io.BytesIO(prefix[-2:] + header))
        except ValueError as err:  # a garbled header
            raise TruncatedStream(f"NPY header: {err}") from err
        if fortran or dtype not in _TORCH_DTYPES:
            raise StreamError(f"unexpected NPY array in stream: dtype {dtype}, fortran_order {fortran}")
        if len(_NPY_HEADERS) >= _NPY_HEADERS_MAX:
            _NPY_HEADERS.clear()
        parsed = _NPY_HEADERS[header] = (shape, _TORCH_DTYPES[dtype])
    return parsed


def _read_exactly(fp, n, what):
    data = fp.read(n)
    if len(data) != n:
        raise TruncatedStream(f"{what}: {len(data)} of {n} bytes")
    return data


def _read_npy(fp, memory="plain"):
    """Reads one NPY v1.0 array from fp into a fresh tensor in `memory` (see _alloc), the bytes
    going from the socket straight into the tensor."""
    shape, dtype = _npy_header(fp)
    t = _alloc(shape, dtype, memory)
    view = memoryview(t.numpy()).cast("B")
    got = 0
    while got < len(view):
        n = fp.readinto(view[got:])
        if not n:
            raise TruncatedStream(f"NPY body: {got} of {len(view)} bytes")
        got += n
    return t


def _npy_batches(fp, memory):
    """Yields (images, labels, ids) from an NPY stream; returns at its end marker."""
    while True:
        images = _read_npy(fp, memory)
        if images.dim() == 1:  # end marker [batches_sent, images_sent]
            return
        if images.dim() != 4 or images.dtype != torch.uint8:
            raise StreamError(f"expected a uint8 [B,H,W,C] images array, got {images.dtype} {tuple(images.shape)}")
        labels, ids = _read_npy(fp), _read_npy(fp)
        if labels.shape != ids.shape or labels.shape != images.shape[:1]:
            raise StreamError(f"batch arrays disagree: images {tuple(images.shape)}, labels {tuple(labels.shape)}, "
                              f"ids {tuple(ids.shape)}")
        yield images, labels, ids


def _arrow_batches(fp, memory):
    """Yields (images, labels, ids) from an Arrow IPC stream of the facestream schema."""
    reader = pa_ipc.open_stream(fp)
    meta = reader.schema.metadata or {}
    try:
        shape = tuple(int(meta[k]) for k in (b"height", b"width", b"channels"))
    except (KeyError, ValueError) as err:
        raise StreamError(f"Arrow schema metadata lacks the image shape: {err}") from err
    for batch in reader:
        column = batch.column("image")
        if isinstance(column, pa.ExtensionArray):  # arrow.fixed_shape_tensor, when pyarrow knows it
            column = column.storage
        pixels = column.flatten().to_numpy(zero_copy_only=True).reshape((len(batch),) + shape)
        if memory != "plain":  # one copy, out of Arrow's buffer into shared or page-locked memory
            images = _alloc(pixels.shape, torch.uint8, memory)
            images.numpy()[...] = pixels
        else:
            with warnings.catch_warnings():  # Arrow memory is read-only; the tensor shares it
                warnings.simplefilter("ignore", UserWarning)
                images = torch.from_numpy(pixels)
        labels = torch.from_numpy(batch.column("label").to_numpy().copy())  # [B] ints: copying is free
        ids = torch.from_numpy(batch.column("id").to_numpy().copy())
        yield images, labels, ids
