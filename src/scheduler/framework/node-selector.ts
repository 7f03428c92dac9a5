/**
 * Node selector matching as k8s.io/component-helpers/scheduling/corev1/nodeaffinity does it: terms are ORed,
 * the requirements of a term ANDed, an empty term matches nothing, a term that fails to parse matches nothing,
 * and matchFields supports only `metadata.name`.
 */
import type { NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm } from 'kubernetes-types/core/v1.js';
import { requirementMatches, type LabelOperator, type LabelRequirement } from '../../api/labels.js';
import type { Node, Pod } from './types.js';

const operators: Record<string, LabelOperator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!', Gt: 'gt', Lt: 'lt' };

function parseRequirement(r: NodeSelectorRequirement): LabelRequirement | undefined {
  const operator = operators[r.operator];
  const values = r.values ?? [];
  if (!operator) return undefined;
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0) return undefined;
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) return undefined;
      break;
    default:
      if (values.length !== 1 || !/^[+-]?\d+$/.test(values[0]!)) return undefined;
  }
  return { key: r.key, operator, values: [...values] };
}

class ParsedTerm {
  readonly labels: LabelRequirement[] = [];
  /** metadata.name requirements (In/NotIn with exactly one value). */
  readonly names: LabelRequirement[] = [];
  readonly valid: boolean;

  constructor(term: NodeSelectorTerm) {
    let valid = true;
    for (const r of term.matchExpressions ?? []) {
      const p = parseRequirement(r);
      if (p) this.labels.push(p);
      else valid = false;
    }
    for (const r of term.matchFields ?? []) {
      const p = parseRequirement(r);
      if (r.key !== 'metadata.name' || !p || (p.operator !== 'in' && p.operator !== 'notin') || p.values.length !== 1) valid = false;
      else this.names.push({ ...p, key: 'metadata.name' });
    }
    this.valid = valid && this.labels.length + this.names.length > 0;
  }

  matches(node: Node): boolean {
    if (!this.valid) return false;
    const labels = node.metadata.labels ?? {};
    for (const r of this.labels) if (!requirementMatches(r, labels)) return false;
    if (this.names.length > 0) {
      const fields = { 'metadata.name': node.metadata.name ?? '' };
      for (const r of this.names) if (!requirementMatches(r, fields)) return false;
    }
    return true;
  }
}

/** A parsed NodeSelector (ORed terms). */
export class NodeSelectorMatcher {
  private readonly terms: ParsedTerm[];

  constructor(selector: NodeSelector) {
    this.terms = (selector.nodeSelectorTerms ?? []).map((t) => new ParsedTerm(t));
  }

  matches(node: Node): boolean {
    for (const t of this.terms) if (t.matches(node)) return true;
    return false;
  }
}

/**
 * A pod's hard node constraints: spec.nodeSelector AND requiredDuringSchedulingIgnoredDuringExecution
 * (nodeaffinity.GetRequiredNodeAffinity).
 */
export class RequiredNodeAffinity {
  private readonly nodeSelector: [string, string][] | undefined;
  private readonly required: NodeSelectorMatcher | undefined;

  constructor(pod: Pod) {
    const sel = pod.spec?.nodeSelector;
    this.nodeSelector = sel && Object.keys(sel).length > 0 ? Object.entries(sel) : undefined;
    const req = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    this.required = req ? new NodeSelectorMatcher(req) : undefined;
  }

  /** True when the pod constrains nodes at all. */
  get isEmpty(): boolean {
    return this.nodeSelector === undefined && this.required === undefined;
  }

  matches(node: Node): boolean {
    if (this.nodeSelector) {
      const labels = node.metadata.labels;
      if (!labels) return false;
      for (const [k, v] of this.nodeSelector) if (labels[k] !== v) return false;
    }
    return this.required === undefined || this.required.matches(node);
  }
}

/** Weighted preferred terms; a node's score is the sum of the weights of the terms it matches. */
export class PreferredSchedulingTerms {
  private readonly terms: { weight: number; term: ParsedTerm }[];

  constructor(terms: readonly PreferredSchedulingTerm[]) {
    this.terms = terms.filter((t) => t.weight !== 0).map((t) => ({ weight: t.weight, term: new ParsedTerm(t.preference) }));
  }

  get isEmpty(): boolean {
    return this.terms.length === 0;
  }

  score(node: Node): number {
    let s = 0;
    for (const t of this.terms) if (t.term.matches(node)) s += t.weight;
    return s;
  }
}
