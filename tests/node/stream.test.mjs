// Reads GET /v1/stream (Arrow IPC) from a live facestream server with the npm package
// apache-arrow, a reader independent of the server's arrow-go writer, and checks the
// schema, the fixed_shape_tensor tagging, shapes, labels, ids, positions, the batch
// count and the explicit end of stream. FACESTREAM_URL names the server (run.sh starts one).
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { RecordBatchReader } from "apache-arrow";

const URL_ = process.env.FACESTREAM_URL;
const BATCH = 8;
const EOS = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

async function getJSON(path) {
  const res = await fetch(URL_ + path);
  return { status: res.status, body: await res.json() };
}

// One whole response: its headers, its raw bytes and its record batches.
async function stream(params) {
  const query = new URLSearchParams({ batch: BATCH, seed: 7, mode: "uniform", format: "arrow", ...params });
  const res = await fetch(`${URL_}/v1/stream?${query}`);
  assert.equal(res.status, 200, `GET /v1/stream?${query}: ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const reader = RecordBatchReader.from(bytes).open();
  const schema = reader.schema; // read before iterating: a finished reader forgets it
  return { res, bytes, schema, batches: [...reader] };
}

function column(batches, name) {
  return batches.flatMap((b) => Array.from(b.getChild(name).toArray(), Number));
}

let info;
before(async () => {
  assert.ok(URL_, "set FACESTREAM_URL to a running facestream server (tests/node/run.sh does)");
  const { status, body } = await getJSON(`/v1/info?world=2&batch=${BATCH}&mode=uniform`);
  assert.equal(status, 200);
  info = body;
});

test("schema: fixed_shape_tensor image, typed columns, metadata", async () => {
  const { res, schema } = await stream({});
  const { height: H, width: W, channels: C } = info.image;
  assert.equal(res.headers.get("content-type"), "application/vnd.apache.arrow.stream");
  assert.deepEqual(
    schema.fields.map((f) => [f.name, String(f.type)]),
    [["image", `FixedSizeList[${H * W * C}]<Uint8>`], ["label", "Int32"], ["id", "Int64"], ["pos", "Int64"], ["epoch", "Int32"]],
  );
  const image = schema.fields[0].metadata;
  assert.equal(image.get("ARROW:extension:name"), "arrow.fixed_shape_tensor");
  assert.deepEqual(JSON.parse(image.get("ARROW:extension:metadata")).shape, [H, W, C]);
  const meta = schema.metadata;
  assert.deepEqual(["height", "width", "channels"].map((k) => Number(meta.get(k))), [H, W, C]);
  assert.deepEqual(["rank", "world", "epoch", "batch"].map((k) => Number(meta.get(k))), [0, 1, 0, BATCH]);
  assert.equal(meta.get("mode"), "uniform");
  assert.equal(Number(meta.get("batches")), Math.floor(info.dataset.samples / BATCH));
});

test("one epoch: batch count, shapes, labels, unique ids, positions, end marker", async () => {
  const { res, bytes, batches } = await stream({});
  const perEpoch = Math.floor(info.dataset.samples / BATCH);
  assert.equal(Number(res.headers.get("x-facestream-batches-per-epoch")), perEpoch);
  assert.equal(batches.length, perEpoch);
  assert.deepEqual(Array.from(bytes.subarray(bytes.length - 8)), EOS, "stream lacks the IPC end-of-stream marker");
  const pixels = info.image.height * info.image.width * info.image.channels;
  for (const b of batches) {
    assert.equal(b.numRows, BATCH);
    const image = b.getChild("image");
    assert.equal(image.type.listSize, pixels);
    assert.equal(image.data[0].children[0].values.length, BATCH * pixels);
  }
  const labels = column(batches, "label");
  assert.ok(labels.every((l) => Number.isInteger(l) && l >= 0 && l < info.identities), "label out of range");
  const ids = column(batches, "id");
  assert.equal(new Set(ids).size, ids.length, "an id came twice in one epoch");
  assert.deepEqual(column(batches, "pos"), ids.map((_, i) => i));
  assert.ok(column(batches, "epoch").every((e) => e === 0));
});

test("two ranks split the epoch; start resumes with the tail", async () => {
  const ranks = await Promise.all([0, 1].map((rank) => stream({ rank, world: 2 })));
  for (const r of ranks) assert.equal(r.batches.length, info.plan.batches_per_rank);
  const [a, b] = ranks.map((r) => column(r.batches, "id"));
  assert.equal(new Set([...a, ...b]).size, a.length + b.length, "ranks overlap");
  const resumed = await stream({ rank: 1, world: 2, start: 3 * BATCH });
  assert.deepEqual(column(resumed.batches, "id"), b.slice(3 * BATCH));
  assert.deepEqual(column(resumed.batches, "pos"), column(ranks[1].batches, "pos").slice(3 * BATCH));
});

test("bad parameters: 400 with a JSON error before any stream byte", async () => {
  for (const q of ["batch=0", "rank=2&world=2", "start=3&batch=8", "format=csv", "mode=nope"]) {
    const { status, body } = await getJSON(`/v1/stream?${q}`);
    assert.equal(status, 400, q);
    assert.equal(typeof body.error, "string", q);
  }
});
