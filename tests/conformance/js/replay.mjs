// fal's own JS client (@fal-ai/client), unchanged, against an emulator replaying a cassette.
//
//   node replay.mjs <emulator base URL> <endpoint> <input JSON file> [api key]
//
// Submits the recorded input, polls the status (with logs) until COMPLETED, reads the result, and prints one
// JSON line: {"submit_status", "statuses": [...every polled status...], "logs": n, "result": {...}}. The pytest
// driver (tests/conformance/test_cassette_replay.py) compares it with the cassette. Every wait is bounded.

import { readFileSync } from "node:fs";

import falPackage from "@fal-ai/client";

const { createFalClient } = falPackage;
const [base, endpoint, inputPath, apiKey = "replay-id:replay-secret"] = process.argv.slice(2);
if (!base || !endpoint || !inputPath) {
  console.error("usage: node replay.mjs <emulator base URL> <endpoint> <input JSON file> [api key]");
  process.exit(2);
}
const HOSTS = [
  ["https://queue.fal.run/", `${base}/queue/`],
  ["https://fal.run/", `${base}/run/`],
  ["https://rest.fal.ai/", `${base}/rest/`],
];
const rewrite = (url) => {
  for (const [from, to] of HOSTS) if (url.startsWith(from)) return to + url.slice(from.length);
  return url;
};
const fal = createFalClient({ credentials: apiKey, requestMiddleware: async (req) => ({ ...req, url: rewrite(req.url) }) });
const input = JSON.parse(readFileSync(inputPath, "utf8"));

const submitted = await fal.queue.submit(endpoint, { input });
const statuses = [];
let logs = 0;
for (let n = 0; n < 2000; n++) {
  const status = await fal.queue.status(endpoint, { requestId: submitted.request_id, logs: true });
  statuses.push(status.status);
  logs = Math.max(logs, (status.logs || []).length);
  if (status.status === "COMPLETED") break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const result = await fal.queue.result(endpoint, { requestId: submitted.request_id });
console.log(JSON.stringify({ submit_status: submitted.status, statuses, logs, result: result.data, request_id: result.requestId }));
