// fal's own JS client (@fal-ai/client, pinned in package.json), unchanged, against a running emulator.
//
//   node conformance.mjs <emulator base URL> <middleware|proxy> <png path> [api key] [seedance|wan]
//
// The last argument picks the endpoint: Seedance 2.0 fast (default), or Wan 2.5 image-to-video, a non-Seedance
// model with its own schema (durations "5" | "10"), output shape and price rule.
//
// "middleware": the client keeps its fal URLs and a requestMiddleware rewrites the hosts onto the
// emulator (https://queue.fal.run/ -> <base>/queue/, https://fal.run/ -> <base>/run/,
// https://rest.fal.ai/ -> <base>/rest/). "proxy": the client has no key and sends everything to the
// emulator's fal server-proxy route (proxyUrl, when: "always"; outside a browser fal's default is
// to proxy only in browsers), which holds the key as @fal-ai/server-proxy does.
//
// Every step asserts on what came back (MP4 bytes with an ftyp box, logs, statuses, signed webhooks,
// uploaded bytes). The last line printed is JSON: {"mode", "checks": [...], "videos": [...]}; the
// pytest driver (tests/conformance/test_js_client.py) probes the videos with PyAV. Any failure exits 1.
// Every wait is bounded.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";

import falPackage from "@fal-ai/client";

const { createFalClient, ApiError, ValidationError } = falPackage;

const [base, mode, pngPath, apiKey = "conformance-id:conformance-secret", model = "seedance"] =
  process.argv.slice(2);
const MODELS = {
  seedance: { endpoint: "bytedance/seedance-2.0/fast/image-to-video", duration: "4", log: "Generating 4s at 864x496" },
  wan: { endpoint: "fal-ai/wan-25-preview/image-to-video", duration: "5", log: "Generating 5s at 832x480" },
};
if (!base || !["middleware", "proxy"].includes(mode) || !pngPath || !(model in MODELS)) {
  console.error("usage: node conformance.mjs <emulator base URL> <middleware|proxy> <png path> [api key] [seedance|wan]");
  process.exit(2);
}

const ENDPOINT = MODELS[model].endpoint;
const png = readFileSync(pngPath);
const dataUri = `data:image/png;base64,${png.toString("base64")}`;
const input = { prompt: "a slow push-in", image_url: dataUri, resolution: "480p", duration: MODELS[model].duration };
const checks = [];
const videos = [];

const HOSTS = [
  ["https://queue.fal.run/", `${base}/queue/`],
  ["https://fal.run/", `${base}/run/`],
  ["https://rest.fal.ai/", `${base}/rest/`],
];

function rewrite(url) {
  for (const [from, to] of HOSTS) {
    if (url.startsWith(from)) return to + url.slice(from.length);
  }
  return url;
}

const fal =
  mode === "middleware"
    ? createFalClient({ credentials: apiKey, requestMiddleware: async (req) => ({ ...req, url: rewrite(req.url) }) })
    : createFalClient({ proxyUrl: { url: `${base}/api/fal/proxy`, when: "always" } });

function check(name) {
  checks.push(name);
}

async function within(seconds, what, fn) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function admin(path, body) {
  const response = await fetch(`${base}/_emulator/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(response.status, 200, `emulator admin ${path}`);
  return response.json();
}

async function assertVideo(output, label) {
  assert.ok(output?.video?.url, `${label}: the output names a video`);
  assert.equal(output.video.content_type, "video/mp4");
  const response = await fetch(output.video.url);
  assert.equal(response.status, 200, `${label}: the video downloads`);
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.equal(bytes.length, output.video.file_size, `${label}: file_size matches the bytes`);
  assert.equal(bytes.subarray(4, 8).toString("latin1"), "ftyp", `${label}: an MP4 (ftyp box first)`);
  assert.ok(Number.isInteger(output.seed), `${label}: a seed`);
  videos.push(output.video.url);
}

function logMessages(updates) {
  return updates.flatMap((u) => (Array.isArray(u.logs) ? u.logs : [])).map((l) => l.message);
}

// A webhook receiver on loopback.
function startReceiver() {
  const deliveries = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("{}");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}/fal/webhook`, deliveries, server }),
    ),
  );
}

async function verifySignature(delivery) {
  const jwks = await (await fetch(`${base}/rest/.well-known/jwks.json`)).json();
  const h = delivery.headers;
  const digest = crypto.createHash("sha256").update(delivery.body).digest("hex");
  const message = Buffer.from(
    [h["x-fal-webhook-request-id"], h["x-fal-webhook-user-id"], h["x-fal-webhook-timestamp"], digest].join("\n"),
  );
  const signature = Buffer.from(h["x-fal-webhook-signature"], "hex");
  assert.ok(Math.abs(Date.now() / 1000 - Number(h["x-fal-webhook-timestamp"])) < 300, "a fresh timestamp");
  return jwks.keys.some((jwk) =>
    crypto.verify(null, message, crypto.createPublicKey({ key: jwk, format: "jwk" }), signature),
  );
}

async function main() {
  // 1. fal.subscribe with logs and onQueueUpdate (polling, the default), then with status streaming.
  for (const subscribeMode of ["polling", "streaming"]) {
    const updates = [];
    let enqueued;
    const result = await fal.subscribe(ENDPOINT, {
      input,
      logs: true,
      mode: subscribeMode,
      onEnqueue: (id) => (enqueued = id),
      onQueueUpdate: (update) => updates.push(update),
    });
    await assertVideo(result.data, `subscribe (${subscribeMode})`);
    assert.equal(result.requestId, enqueued, "result.requestId is the request that was enqueued");
    assert.equal(updates.at(-1).status, "COMPLETED");
    assert.ok(
      logMessages(updates).some((m) => m.startsWith(MODELS[model].log)),
      `subscribe (${subscribeMode}) delivered the model's logs`,
    );
    check(`subscribe-${subscribeMode}`);
  }

  // 2. queue.submit with webhookUrl; queue.status with logs; queue.result; a signed webhook arrives.
  const receiver = await startReceiver();
  try {
    const submitted = await fal.queue.submit(ENDPOINT, { input, webhookUrl: receiver.url });
    assert.equal(submitted.status, "IN_QUEUE");
    const requestId = submitted.request_id;
    const seen = new Set();
    const done = await within(60, "COMPLETED", async () => {
      const status = await fal.queue.status(ENDPOINT, { requestId, logs: true });
      seen.add(status.status);
      if (status.status !== "IN_QUEUE") assert.ok(Array.isArray(status.logs), "logs with logs: true");
      return status.status === "COMPLETED" ? status : undefined;
    });
    assert.ok(done.metrics.inference_time > 0, "metrics.inference_time on COMPLETED");
    assert.ok(done.logs.length > 0);
    const result = await fal.queue.result(ENDPOINT, { requestId });
    assert.equal(result.requestId, requestId);
    await assertVideo(result.data, "queue.result");
    check("queue-submit-status-result");
    const delivery = await within(30, "the webhook", async () => receiver.deliveries[0]);
    const body = JSON.parse(delivery.body.toString("utf8"));
    assert.equal(body.request_id, requestId);
    assert.equal(body.status, "OK");
    assert.deepEqual(body.payload, result.data, "the webhook carries the same output");
    assert.ok(await verifySignature(delivery), "the webhook's ED25519 signature verifies against the JWKS");
    check("webhook-signed");
  } finally {
    receiver.server.close();
  }

  // 3. queue.cancel on a slow request; its result is then fal's 499; a second cancel is ALREADY_COMPLETED.
  const before = await admin("config", {});
  await admin("config", { speed: 1.0 });
  let cancelledId;
  try {
    cancelledId = (await fal.queue.submit(ENDPOINT, { input })).request_id;
    await fal.queue.cancel(ENDPOINT, { requestId: cancelledId });
  } finally {
    await admin("config", { speed: before.speed });
  }
  await within(30, "the cancelled request to complete", async () => {
    const status = await fal.queue.status(ENDPOINT, { requestId: cancelledId });
    return status.status === "COMPLETED" ? status : undefined;
  });
  await assert.rejects(fal.queue.result(ENDPOINT, { requestId: cancelledId }), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 499);
    assert.equal(err.body.error_type, "client_cancelled");
    return true;
  });
  await assert.rejects(fal.queue.cancel(ENDPOINT, { requestId: cancelledId }), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 400);
    assert.equal(err.body.status, "ALREADY_COMPLETED");
    return true;
  });
  check("queue-cancel");

  // 4. storage.upload(new File(...)): the bytes come back unchanged.
  const url = await fal.storage.upload(new File([png], "frame.png", { type: "image/png" }));
  const stored = Buffer.from(await (await fetch(url)).arrayBuffer());
  assert.ok(stored.equals(png), "the uploaded file is served back byte for byte");
  check("storage-upload-file");

  // 5. A Blob inside the input is uploaded automatically and used as the image.
  const initiatedBefore = (await admin("stats")).requests.upload_initiate ?? 0;
  const fromBlob = await fal.subscribe(ENDPOINT, {
    input: { ...input, image_url: new Blob([png], { type: "image/png" }) },
  });
  await assertVideo(fromBlob.data, "subscribe with a Blob");
  assert.equal((await admin("stats")).requests.upload_initiate, initiatedBefore + 1, "the Blob was uploaded");
  check("blob-auto-upload");

  // 6. fal.run: the sync route answers the output directly.
  const ran = await fal.run(ENDPOINT, { input: { ...input, seed: 7 } });
  assert.ok(ran.requestId, "fal.run returns the request id (x-fal-request-id)");
  assert.equal(ran.data.seed, 7);
  await assertVideo(ran.data, "fal.run");
  check("run");

  // 7. A bad input: accepted, then a ValidationError naming the field at the result.
  const bad = await fal.queue.submit(ENDPOINT, { input: { ...input, duration: "99" } });
  await within(30, "the bad request to complete", async () => {
    const status = await fal.queue.status(ENDPOINT, { requestId: bad.request_id });
    return status.status === "COMPLETED" ? status : undefined;
  });
  await assert.rejects(fal.queue.result(ENDPOINT, { requestId: bad.request_id }), (err) => {
    assert.ok(err instanceof ValidationError);
    assert.equal(err.getFieldErrors("duration").length, 1);
    return true;
  });
  check("validation-error");

  // 8. A file over 90 MiB: the JS multipart upload. fal's server proxy does not allow initiate-multipart.
  const size = 91 * 1024 * 1024 + 3;
  const big = Buffer.alloc(size);
  for (let offset = 0; offset + 4 <= size; offset += 1024 * 1024) big.writeUInt32BE(offset / (1024 * 1024), offset);
  const bigFile = new File([big], "big.bin", { type: "application/octet-stream" });
  if (mode === "middleware") {
    const bigUrl = await fal.storage.upload(bigFile);
    const response = await fetch(bigUrl);
    const hash = crypto.createHash("sha256");
    let length = 0;
    for await (const chunk of response.body) {
      hash.update(chunk);
      length += chunk.length;
    }
    assert.equal(length, size);
    assert.equal(hash.digest("hex"), crypto.createHash("sha256").update(big).digest("hex"), "multipart bytes");
    check("storage-upload-multipart");
  } else {
    await assert.rejects(fal.storage.upload(bigFile), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 400);
      return true;
    });
    check("proxy-refuses-multipart");
  }

  console.log(JSON.stringify({ mode, checks, videos }));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err?.stack ?? String(err));
    if (err?.body) console.error("body:", JSON.stringify(err.body));
    console.log(JSON.stringify({ mode, checks, videos, error: String(err?.message ?? err) }));
    process.exit(1);
  },
);
