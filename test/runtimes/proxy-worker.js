// A key-adding proxy for browser clients, as a Cloudflare Worker / workerd module (ES syntax).
// The browser never holds the key: it creates its client with
//   createKlingClient({ apiKey: null, baseUrl: "https://<this worker>" })
// and this worker forwards the one task route to the relay with the key, kept server-side as the
// secret XIEXUS_API_KEY. Add your own check of who the caller is before forwarding.
// Bindings: XIEXUS_API_KEY (secret), XIEXUS_BASE_URL (the relay), ALLOWED_ORIGIN (your site).
const ROUTE = /^\/kling\/v1\/videos\/image2video\/[^/]+$/;

export default {
  async fetch(request, env) {
    const cors = { "access-control-allow-origin": env.ALLOWED_ORIGIN, vary: "origin" };
    if (request.method === "OPTIONS") {
      return new Response(null, {
        status: 204,
        headers: { ...cors, "access-control-allow-methods": "GET", "access-control-max-age": "600" },
      });
    }
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" || !ROUTE.test(pathname)) return new Response("not found", { status: 404, headers: cors });
    // Only the server's key goes upstream; nothing else of the browser's request is forwarded.
    const upstream = await fetch(`${env.XIEXUS_BASE_URL.replace(/\/+$/, "")}${pathname}`, {
      headers: { authorization: `Bearer ${env.XIEXUS_API_KEY}`, accept: "application/json" },
      signal: request.signal,
    });
    const headers = new Headers(cors);
    for (const name of ["content-type", "retry-after", "retry-after-ms", "x-request-id"]) {
      const value = upstream.headers.get(name);
      if (value) headers.set(name, value);
    }
    return new Response(upstream.body, { status: upstream.status, headers });
  },
};
