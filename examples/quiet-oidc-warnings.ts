/**
 * Imported before oidc-provider: drops the two start-up warnings it prints that do not apply to a
 * test issuer on loopback, and nothing else.
 *
 * - "Unsupported runtime. Use Node.js v22.x LTS": oidc-provider's own support policy; on Node 20
 *   every grant the tests and the demo use works (the suite runs them on 20.20).
 * - "a quick start development-only in-memory adapter is used": an in-memory store is exactly what a
 *   throwaway issuer for tests and the demo wants; it lives as long as the process.
 */
const IRRELEVANT = [/^oidc-provider WARNING: Unsupported runtime/, /^oidc-provider WARNING: a quick start development-only in-memory adapter/];
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  // the text may be wrapped in terminal colour codes
  const text = typeof args[0] === 'string' ? args[0].replace(/\x1b\[[0-9;]*m/g, '') : '';
  if (IRRELEVANT.some((pattern) => pattern.test(text))) return;
  warn(...args);
};
export {};
