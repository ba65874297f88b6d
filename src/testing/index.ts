/**
 * Test helpers for apps that embed credential-actor: a clock you move by hand, and scenarios
 * generated from the statechart's own graph to replay against your code, with a coverage report.
 *
 * @module credential-actor/testing
 */
export { ManualClock } from './manual-clock.js';
export { credentialScenarios, describeWorld } from './model/scenarios.js';
export type { CredentialScenario, ProviderExpectation, ScenarioModel, ScenarioOptions, ScenarioStep, TokenCallOutcome, WorldAction } from './model/scenarios.js';
export { replayScenario, ScenarioMismatch } from './model/replay.js';
export type { ReplayedProvider, ReplayedRequest, ReplayOptions, ReplayResult, RequestContext, UpstreamCall } from './model/replay.js';
export { coverageDot, coverageJson, coverageLine, coverageSvg, scenarioCoverage } from './model/coverage.js';
export type { CoverageReport } from './model/coverage.js';
