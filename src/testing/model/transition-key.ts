import type { AnyStateNode, AnyTransitionDefinition } from 'xstate';

/**
 * A stable name for a transition of `credentialMachine` or of any variant built from the same
 * config (`.provide()` copies the nodes, not their order): `sourceId:index` in the source's
 * transition list, or `sourceId:always:index` for an eventless one. The coverage the model-based
 * tests write and the pictures that colour it both key transitions this way.
 *
 * @example
 * ```ts
 * transitionKey(transition); // 'credential.breaker.closed:0'
 * ```
 */
export function transitionKey(transition: AnyTransitionDefinition): string {
  const source = transition.source as AnyStateNode;
  const alwaysIndex = (source.always ?? []).indexOf(transition);
  if (alwaysIndex >= 0) return `${source.id}:always:${alwaysIndex}`;
  return `${source.id}:${[...source.transitions.values()].flat().indexOf(transition)}`;
}
