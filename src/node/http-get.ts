// nodeHttpGet: the client's task GETs over node:http(s) instead of fetch. On Node 20 a fetch leaves
// Request, Response, Headers and web-stream objects (plus undici's native buffers) behind on every
// poll; a batch of 1,000 tasks peaks near 150 MB through fetch and near 100 MB through this
// (BENCHMARKS.md, "batch"), and one poll costs about 0.7x of a fetch round trip.
// It keeps fetch's contract where the client relies on it: redirects are followed (Authorization
// dropped when the origin changes), gzip/deflate/br bodies are decoded (a coding fetch does not
// know passes through, as it does there), a body cut short or a connection error rejects (the
// transport retries it), and the decoded body is capped.
import http from "node:http";
import https from "node:https";
import zlib from "node:zlib";
import { ResponseTooLargeError } from "../errors.js";
import { isAllowedRedirect, type HttpGet, type HttpGetRequest, type HttpGetResponse } from "../options.js";
import { isRedirect, MAX_REDIRECTS, toHeaders } from "./_http.js";

/**
 * The decoders for a Content-Encoding, outermost coding first, as undici's fetch reads the header:
 * a list ("gzip, br") is undone from its last coding back; a coding fetch does not know (or
 * "identity" in a list) leaves the whole body as it came. None for no header.
 */
function decoders(encoding: string | undefined): Array<zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress> {
  const out: Array<zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress> = [];
  const codings = encoding ? encoding.toLowerCase().split(",") : [];
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!.trim();
    if (coding === "gzip" || coding === "x-gzip") {
      // Lenient about a missing trailer, as browsers and undici are.
      out.push(zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }));
    } else if (coding === "deflate") {
      out.push(zlib.createInflate({ finishFlush: zlib.constants.Z_SYNC_FLUSH }));
    } else if (coding === "br") {
      out.push(zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }));
    } else {
      for (const unused of out) unused.destroy();
      return [];
    }
  }
  return out;
}

/** One hop: sends the GET and reads the whole answer (or only its headers, for a redirect). */
function hop(url: URL, request: HttpGetRequest, headers: Record<string, string>): Promise<HttpGetResponse> {
  const { signal, maxBytes } = request;
  return new Promise((resolve, reject) => {
    const get = url.protocol === "https:" ? https.get : http.get;
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      req.destroy();
      reject(error);
    };
    const onAbort = (): void => fail(signal.reason);
    const cutShort = (): void => fail(new Error("the connection closed before the body ended"));
    const req = get(url, { headers }, (res) => {
      const status = res.statusCode ?? 0;
      const done = (body: Uint8Array): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve({ status, statusText: res.statusMessage ?? "", headers: toHeaders(res.rawHeaders), url: url.href, body });
      };
      if (isRedirect(status) && res.headers.location !== undefined) {
        // Only the Location matters: drop the body (the socket goes back to the pool once it ends).
        res.resume();
        return done(new Uint8Array(0));
      }
      const length = res.headers["content-length"];
      const decoding = decoders(res.headers["content-encoding"]);
      // Undecoded, the declared length is the body's size: refuse it before reading a byte.
      if (length !== undefined && !decoding.length && Number(length) > maxBytes) {
        return fail(new ResponseTooLargeError(maxBytes, status));
      }
      let body: NodeJS.ReadableStream = res;
      for (const decoder of decoding) {
        decoder.on("error", fail);
        body = body.pipe(decoder);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      body.on("data", (chunk: Buffer) => {
        size += chunk.length;
        // Stop at once: the rest is never downloaded (the socket is destroyed), let alone kept.
        if (size > maxBytes) return fail(new ResponseTooLargeError(maxBytes, status));
        chunks.push(chunk);
      });
      body.on("end", () => {
        // A body the server cut short ends without `complete`: the transport retries it.
        if (!res.complete) return cutShort();
        done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      });
      res.on("error", fail);
      res.on("aborted", cutShort);
    });
    req.on("error", fail);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Sends a GET over node:http(s) and reads its answer, following redirects like fetch: a GET with
 * the same headers, less Authorization (and Cookie) once the origin changes; plain http only to
 * loopback, and loopback only from loopback. Pass it as the client's `httpGet`.
 */
export const nodeHttpGet: HttpGet = async (request) => {
  let url = new URL(request.url);
  let headers = request.headers;
  for (let hops = 0; ; hops++) {
    const answer = await hop(url, request, headers);
    const location = answer.headers.get("location");
    if (!isRedirect(answer.status) || location === null) return answer;
    if (hops >= MAX_REDIRECTS) throw new Error(`redirected more than ${MAX_REDIRECTS} times`);
    const next = new URL(location, url);
    if (!isAllowedRedirect(url, next)) {
      throw new Error(`refused a redirect to ${next.protocol}//${next.host}: https only, and loopback only from loopback`);
    }
    if (next.origin !== url.origin) {
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !/^(authorization|cookie)$/i.test(name)));
    }
    url = next;
  }
};
