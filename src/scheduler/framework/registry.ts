/** Plugins by name (runtime.Registry): profiles refer to plugins by name, the registry builds them. */
import type { PluginFactory } from './interface.js';

export class Registry {
  private readonly factories = new Map<string, PluginFactory>();

  constructor(entries: Iterable<[string, PluginFactory]> = []) {
    for (const [name, f] of entries) this.register(name, f);
  }

  /** Throws when `name` is taken: two plugins under one name would make profiles ambiguous. */
  register(name: string, factory: PluginFactory): this {
    if (this.factories.has(name)) throw new Error(`a plugin named ${name} already exists`);
    this.factories.set(name, factory);
    return this;
  }

  /** Adds every plugin of `other` (out-of-tree plugins next to the in-tree ones). */
  merge(other: Registry): this {
    for (const [name, f] of other.factories) this.register(name, f);
    return this;
  }

  get(name: string): PluginFactory | undefined {
    return this.factories.get(name);
  }

  names(): string[] {
    return [...this.factories.keys()];
  }
}
