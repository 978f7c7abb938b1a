// The workerd cell's worker (ES module syntax). workerd allows I/O only while it handles a
// request, so every check runs inside `fetch`: GET /?mode=checks|proxy|one&baseUrl=...&cell=...
// answers the checks' observations as JSON. "kling.mjs" is the browser bundle of the package's
// main entry; "checks.js" is the file every runtime cell shares.
import * as kling from "kling.mjs";
import { runChecks, runOneGet, runProxyCheck } from "checks.js";

export default {
  async fetch(request, env) {
    const query = new URL(request.url).searchParams;
    const options = { baseUrl: query.get("baseUrl"), apiKey: env.API_KEY, cell: query.get("cell"), proxyUrl: query.get("proxyUrl") };
    const mode = query.get("mode");
    const run = mode === "checks" ? runChecks : mode === "proxy" ? runProxyCheck : runOneGet;
    try {
      return Response.json({ compatibilityDate: env.COMPATIBILITY_DATE, results: await run(kling, options) });
    } catch (error) {
      return new Response(String(error?.stack ?? error), { status: 500 });
    }
  },
};
