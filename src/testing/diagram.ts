/**
 * Pictures of the statechart, read from the machine itself: a Mermaid `stateDiagram-v2` and a
 * Graphviz DOT graph (optionally with each transition coloured by how many generated test paths
 * took it).
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
/** Any statechart these pictures can draw (the credential's, the pool's, the refresh token's). */
type DrawableMachine = Pick<AnyStateMachine, 'root' | 'id'>;
import { transitionKey } from './model/transition-key.js';

/** One drawable transition: where it starts (a state, or a whole region), where it goes, its label. */
export interface DrawnTransition {
  /** The key the model-based tests use in `coverage.json` (see `transitionKey`). */
  readonly key: string;
  readonly source: AnyStateNode;
  readonly target: AnyStateNode;
  readonly label: string;
}

/** Every transition of the machine, in document order, with a short label. */
export function transitionsOf(machine: DrawableMachine): DrawnTransition[] {
  const drawn: DrawnTransition[] = [];
  const visit = (node: AnyStateNode) => {
    for (const transition of [...node.transitions.values()].flat() as AnyTransitionDefinition[]) drawn.push(draw(node, transition));
    for (const transition of (node.always ?? []) as AnyTransitionDefinition[]) drawn.push(draw(node, transition));
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child);
  };
  visit(machine.root);
  return drawn;
}

function draw(source: AnyStateNode, transition: AnyTransitionDefinition): DrawnTransition {
  const target = (transition.target?.[0] as AnyStateNode | undefined) ?? source;
  return { key: transitionKey(transition), source, target, label: labelOf(transition) };
}

/** `after untilRefreshDue`, `mint resolved [mintedTokenAlreadyExpired]`, `token.requested [requestAdmitsMint]`. */
export function labelOf(transition: AnyTransitionDefinition): string {
  const type = transition.eventType;
  const event =
    type === ''
      ? 'always'
      : type.startsWith('xstate.after.')
        ? `after ${type.split('.')[2]}`
        : type === 'xstate.done.actor.mint'
          ? 'mint resolved'
          : type === 'xstate.error.actor.mint'
            ? 'mint rejected'
            : type;
  const guard = transition.guard;
  const guardName = typeof guard === 'string' ? guard : typeof guard === 'object' && guard !== null && 'type' in guard ? String(guard.type) : null;
  return guardName === null ? event : `${event} [${guardName}]`;
}

/** The parallel regions of a machine, or the machine itself as its one region (a statechart of one region: the refresh token's). */
const regionsOf = (machine: DrawableMachine) => (machine.root.type === 'parallel' ? (Object.values(machine.root.states) as AnyStateNode[]) : [machine.root]);
const childrenOf = (region: AnyStateNode) => Object.values(region.states) as AnyStateNode[];

/**
 * A Mermaid `stateDiagram-v2`: the three regions as concurrent parts of `credential`. A transition
 * declared on a whole region (`mint.succeeded`, `token.invalidated`) is drawn from each of its states.
 */
export function toMermaid(machine: DrawableMachine): string {
  const transitions = transitionsOf(machine);
  if (machine.root.type !== 'parallel') {
    const lines = ['stateDiagram-v2', `  [*] --> ${machine.root.initial.target[0]!.key}`];
    for (const child of childrenOf(machine.root)) if (child.description) lines.push(`  ${child.key} : ${child.description}`);
    for (const { source, target, label } of transitions) {
      for (const from of source === machine.root ? childrenOf(machine.root) : [source]) lines.push(`  ${from.key} --> ${target.key}: ${label}`);
    }
    return `${lines.join('\n')}\n`;
  }
  const lines = ['stateDiagram-v2', `  state ${machine.root.key} {`];
  regionsOf(machine).forEach((region, index) => {
    if (index > 0) lines.push('    --');
    lines.push(`    state ${region.key} {`);
    lines.push(`      [*] --> ${region.initial.target[0]!.key}`);
    for (const child of childrenOf(region)) if (child.description) lines.push(`      ${child.key} : ${child.description}`);
    for (const { source, target, label } of transitions) {
      if (source === region) {
        for (const child of childrenOf(region)) lines.push(`      ${child.key} --> ${target.key}: ${label}`);
      } else if (source.parent === region) {
        lines.push(`      ${source.key} --> ${target.key}: ${label}`);
      }
    }
    lines.push('    }');
  });
  lines.push('  }');
  return `${lines.join('\n')}\n`;
}

/** How many generated paths took each transition, by key (from `coverage.json`). */
export type PathCounts = ReadonlyMap<string, number>;

const REGION_COLOURS: Record<string, string> = { validity: '#eef5ff', breaker: '#fff4e8', flight: '#f1f8ee' };

/**
 * A Graphviz DOT graph: one cluster per region, a small "any" node for transitions declared on a
 * whole region, every transition an edge. With `pathCounts`, each edge is coloured and labelled by
 * how many generated paths took it (red and dashed when none did).
 */
export function toDot(machine: DrawableMachine, pathCounts?: PathCounts): string {
  const id = (node: AnyStateNode) => `"${node.id}"`;
  const lines = [
    `digraph ${machine.root.key} {`,
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=16, labelloc=t, nodesep=0.5, ranksep=0.9, pad=0.3,',
    `         label="${pathCounts ? `${machine.id}: each transition by the generated test paths that take it (red, dashed: none)` : `${machine.id}`}"];`,
    '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica", fontsize=13, margin="0.2,0.08"];',
    '  edge [fontname="Helvetica", fontsize=10, color="#445566", arrowsize=0.7];',
  ];
  const transitions = transitionsOf(machine);
  // Graphviz stacks clusters of a left-to-right graph bottom-up: declare them in reverse so the
  // regions read top-down in document order.
  for (const region of [...regionsOf(machine)].reverse()) {
    lines.push(`  subgraph "cluster_${region.key}" {`);
    lines.push(`    label="${region.key}"; style="rounded,filled"; fillcolor="${REGION_COLOURS[region.key] ?? '#f5f5f5'}"; color="#99aabb";`);
    lines.push(`    "${region.id}.initial" [shape=point, width=0.12, label=""];`);
    if (transitions.some(({ source }) => source === region)) {
      lines.push(`    ${id(region)} [label="any ${region.key} state", shape=box, style="dashed,rounded", fontsize=11, fontcolor="#556677"];`);
    }
    for (const child of childrenOf(region)) lines.push(`    ${id(child)} [label="${labelOfState(child)}"];`);
    lines.push(`    "${region.id}.initial" -> ${id(region.initial.target[0]!)};`);
    lines.push('  }');
  }
  const selfLoops = new Map<AnyStateNode, number>();
  for (const { key, source, target, label } of transitions) {
    const attributes = [`label="${label}"`];
    if (source === target) {
      // alternate a state's self-loops above and below it so their labels do not collide
      const nth = selfLoops.get(source) ?? 0;
      selfLoops.set(source, nth + 1);
      const side = nth % 2 === 0 ? 'n' : 's';
      attributes.push(`tailport=${side}`, `headport=${side}`);
    }
    if (pathCounts !== undefined && pathCounts.has(key)) {
      // a transition with no count was out of the report's scope (the sharing region, for scenarios without coordination): drawn plain
      const paths = pathCounts.get(key)!;
      attributes[0] = `label="${label}\\n${paths} path${paths === 1 ? '' : 's'}"`;
      attributes.push(...coverageStyle(paths));
    }
    lines.push(`  ${id(source)} -> ${id(target)} [${attributes.join(', ')}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** A state's name, with its description (if the machine gives one) wrapped beneath it. */
function labelOfState(state: AnyStateNode): string {
  if (!state.description) return state.key;
  const lines: string[] = [];
  for (const word of state.description.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last]!.length + word.length < 34) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return `${state.key}\\n${lines.join('\\n')}`;
}

function coverageStyle(paths: number): string[] {
  if (paths === 0) return ['color="#d0021b"', 'fontcolor="#d0021b"', 'style=dashed', 'penwidth=2'];
  const colour = paths >= 10 ? '#1b7837' : paths >= 3 ? '#5aae61' : '#a6c96a';
  return [`color="${colour}"`, `penwidth=${Math.min(1 + paths / 4, 5).toFixed(1)}`];
}
