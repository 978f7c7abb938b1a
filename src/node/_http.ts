// What the two node:http users of xiexus-kling/node (downloadVideo, nodeHttpGet) decide alike:
// which answers are redirects, how many are followed, and how raw headers become Headers.

/** Redirects followed per request before giving up. */
export const MAX_REDIRECTS = 5;

/** Whether a status is a redirect to follow (with a Location): 301, 302, 303, 307, 308. */
export function isRedirect(status: number | undefined): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** node:http's `rawHeaders` (name, value, name, value, ...) as a Headers object. */
export function toHeaders(raw: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}
