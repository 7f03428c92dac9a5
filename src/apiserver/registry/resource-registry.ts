/**
 * The served resources of one API server: the built-in definitions, fixed at start, and definitions added and
 * removed while it runs (custom resources, one set per CustomResourceDefinition: ../crd/). Routing, discovery and
 * OpenAPI look resources up here and rebuild what they derived from it when `onChange` tells them to.
 */
import type { ResourceDefinition } from './types.js';

export class ResourceRegistry {
  private readonly builtIn: readonly ResourceDefinition[];
  /** Added definitions by owner (a CRD's name), in the order owners were first added. */
  private readonly added = new Map<string, readonly ResourceDefinition[]>();
  private byGVR = new Map<string, ResourceDefinition>();
  private list: readonly ResourceDefinition[] = [];
  private readonly listeners = new Set<(changed: ReadonlySet<string>) => void>();

  constructor(builtIn: readonly ResourceDefinition[]) {
    this.builtIn = builtIn;
    this.rebuild();
  }

  /** Wraps a plain list (tests and tools build handlers from one); a registry is returned as it is. */
  static of(resources: readonly ResourceDefinition[] | ResourceRegistry): ResourceRegistry {
    return resources instanceof ResourceRegistry ? resources : new ResourceRegistry(resources);
  }

  /** Every served definition: the built-in ones in registry order, then the added ones by owner. */
  all(): readonly ResourceDefinition[] {
    return this.list;
  }

  /** The served definition of group/version/plural, if any. */
  lookup(group: string, version: string, plural: string): ResourceDefinition | undefined {
    return this.byGVR.get(`${group}/${version}/${plural}`);
  }

  /** The first served version of group/plural (each group's preferred version is listed first). */
  preferred(group: string, plural: string): ResourceDefinition | undefined {
    for (const def of this.list) if (def.group === group && def.plural === plural) return def;
    return undefined;
  }

  /** True when `owner` has added definitions. */
  has(owner: string): boolean {
    return this.added.has(owner);
  }

  /**
   * Replaces the definitions `owner` serves (an empty list removes them) and tells the listeners which group
   * versions changed (`group/version`, '' group as `v1`). A definition whose group/version/plural is already
   * served by someone else is refused with an Error (the caller checks names beforehand).
   */
  set(owner: string, defs: readonly ResourceDefinition[]): void {
    for (const def of defs) {
      const other = this.byGVR.get(`${def.group}/${def.version}/${def.plural}`);
      if (other && !(this.added.get(owner) ?? []).includes(other)) throw new Error(`${def.plural}.${def.group}/${def.version} is already served`);
    }
    const changed = new Set<string>();
    for (const def of [...(this.added.get(owner) ?? []), ...defs]) changed.add(def.group ? `${def.group}/${def.version}` : def.version);
    if (defs.length === 0) this.added.delete(owner);
    else this.added.set(owner, [...defs]);
    this.rebuild();
    for (const listener of this.listeners) listener(changed);
  }

  /** Removes the definitions `owner` serves. */
  remove(owner: string): void {
    if (this.added.has(owner)) this.set(owner, []);
  }

  /** Calls listener with the changed group versions after every set/remove; returns the unsubscribe function. */
  onChange(listener: (changed: ReadonlySet<string>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private rebuild(): void {
    const list = [...this.builtIn];
    for (const defs of this.added.values()) list.push(...defs);
    const byGVR = new Map<string, ResourceDefinition>();
    for (const def of list) byGVR.set(`${def.group}/${def.version}/${def.plural}`, def);
    this.list = list;
    this.byGVR = byGVR;
  }
}
