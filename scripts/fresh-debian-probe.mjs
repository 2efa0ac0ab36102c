// Part of scripts/fresh-debian.sh: does a just-started `npm start` answer GraphQL and generate?
//   node scripts/fresh-debian-probe.mjs http://127.0.0.1:PORT
// Waits for /readyz (the first start verifies the shipped models), lists the models, generates
// one image, fetches its PNG. Prints each answer; exits 0 when all went through, 1 otherwise.
const base = process.argv[2];
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function gql(query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function waitUntil(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

try {
  await waitUntil('GET /readyz', async () => (await fetch(`${base}/readyz`)).ok, 180_000);
  const { models } = await gql('{ models { id isDefault capabilities { generate inpaint } } }');
  console.log('models:', JSON.stringify(models));
  const { generateImages } = await gql(
    'mutation { generateImages(input: { classId: 0, count: 1, seed: 7 }) { id status } }',
  );
  console.log('generateImages:', JSON.stringify(generateImages));
  const job = await waitUntil(
    'job SUCCEEDED',
    async () => {
      const { job } = await gql(
        'query($id: ID!) { job(id: $id) { status outputs { url width height } } }',
        { id: generateImages.id },
      );
      if (!['QUEUED', 'RUNNING'].includes(job.status)) return job;
    },
    120_000,
  );
  console.log('job:', JSON.stringify({ status: job.status, outputs: job.outputs.length }));
  if (job.status !== 'SUCCEEDED') throw new Error(`job ended ${job.status}`);
  const png = new Uint8Array(await (await fetch(job.outputs[0].url)).arrayBuffer());
  const isPng = String.fromCharCode(...png.subarray(1, 4)) === 'PNG';
  console.log(`image: ${png.length} bytes, PNG: ${isPng}`);
  process.exit(isPng ? 0 : 1);
} catch (error) {
  console.error(`probe: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
