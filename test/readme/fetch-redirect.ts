/**
 * Preloaded (`--import`) into the process that runs a README snippet: requests to the issuer named
 * in `TOKEN_ENDPOINT` (an https URL, as the snippet's users have) go to the test's local token server
 * on loopback (`REDIRECT_TO`), and so do requests to `ALSO_REDIRECT` (an origin, such as the API the
 * snippet calls), when set. The snippet itself runs as it stands in the README.
 */
const from = [new URL(process.env.TOKEN_ENDPOINT!).origin, ...(process.env.ALSO_REDIRECT === undefined ? [] : [process.env.ALSO_REDIRECT])];
const to = process.env.REDIRECT_TO!;
const realFetch = globalThis.fetch;
globalThis.fetch = (input: string | URL | Request, init?: RequestInit) => {
  const url = input instanceof Request ? input.url : String(input);
  const origin = from.find((candidate) => url.startsWith(candidate));
  if (origin === undefined) return realFetch(input, init);
  const redirected = to + url.slice(origin.length);
  return input instanceof Request ? realFetch(new Request(redirected, input), init) : realFetch(redirected, init);
};
