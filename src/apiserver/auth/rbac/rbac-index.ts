/**
 * The in-memory state RBAC decides from: every Role and ClusterRole by name, and every binding indexed by the users
 * and groups it names, so a decision looks only at the bindings of the asking user's name and groups (upstream keeps
 * informer listers; skiff keeps an index over its watch cache). No store read happens on a request.
 */
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from 'kubernetes-types/rbac/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { subjectKey } from './rule-matching.js';
import type { UserInfo } from '../user-info.js';

export type RbacKind = 'Role' | 'ClusterRole' | 'RoleBinding' | 'ClusterRoleBinding';

export interface BindingMatch {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  binding: RoleBinding | ClusterRoleBinding;
  /** The subject of the binding that names the user. */
  subject: Subject;
}

interface Entry {
  binding: RoleBinding | ClusterRoleBinding;
  /** Subject per index key (the first subject naming that key wins, as upstream's first match). */
  subjects: Map<string, Subject>;
}

type SubjectIndex = Map<string, Set<Entry>>;

export class RbacIndex {
  private readonly clusterRoles = new Map<string, ClusterRole>();
  private readonly roles = new Map<string, Role>();
  private readonly clusterBindings = new Map<string, Entry>();
  private readonly roleBindings = new Map<string, Entry>();
  private readonly clusterSubjects: SubjectIndex = new Map();
  private readonly namespaceSubjects = new Map<string, SubjectIndex>();
  private readonly listeners = new Set<(kind: RbacKind, obj: KubeObject) => void>();
  /** Bumped on every change (decision caches key on it). */
  generation = 0;
  /** Called before each read, so a feed can catch up after its source started over (watch-cache-feed.ts). */
  beforeRead: () => void = () => {};

  /** Adds or replaces an object (ADDED, MODIFIED). */
  upsert(kind: RbacKind, obj: KubeObject): void {
    this.remove(kind, obj, false);
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    switch (kind) {
      case 'ClusterRole':
        this.clusterRoles.set(name, obj as unknown as ClusterRole);
        break;
      case 'Role':
        this.roles.set(`${ns}/${name}`, obj as unknown as Role);
        break;
      case 'ClusterRoleBinding':
        this.clusterBindings.set(name, this.addEntry(this.clusterSubjects, obj as unknown as ClusterRoleBinding, ''));
        break;
      case 'RoleBinding': {
        let index = this.namespaceSubjects.get(ns);
        if (!index) this.namespaceSubjects.set(ns, (index = new Map()));
        this.roleBindings.set(`${ns}/${name}`, this.addEntry(index, obj as unknown as RoleBinding, ns));
        break;
      }
    }
    this.changed(kind, obj);
  }

  /** Forgets an object (DELETED). */
  remove(kind: RbacKind, obj: KubeObject, notify = true): void {
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    switch (kind) {
      case 'ClusterRole':
        this.clusterRoles.delete(name);
        break;
      case 'Role':
        this.roles.delete(`${ns}/${name}`);
        break;
      case 'ClusterRoleBinding': {
        const old = this.clusterBindings.get(name);
        if (old) removeEntry(this.clusterSubjects, old);
        this.clusterBindings.delete(name);
        break;
      }
      case 'RoleBinding': {
        const old = this.roleBindings.get(`${ns}/${name}`);
        const index = this.namespaceSubjects.get(ns);
        if (old && index) {
          removeEntry(index, old);
          if (index.size === 0) this.namespaceSubjects.delete(ns);
        }
        this.roleBindings.delete(`${ns}/${name}`);
        break;
      }
    }
    if (notify) this.changed(kind, obj);
  }

  /** Forgets everything (the watch cache started over). */
  clear(): void {
    this.clusterRoles.clear();
    this.roles.clear();
    this.clusterBindings.clear();
    this.roleBindings.clear();
    this.clusterSubjects.clear();
    this.namespaceSubjects.clear();
    this.generation++;
  }

  /** Called after every change; returns the unsubscribe function. */
  onChange(fn: (kind: RbacKind, obj: KubeObject) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  clusterRole(name: string): ClusterRole | undefined {
    return this.clusterRoles.get(name);
  }

  role(namespace: string, name: string): Role | undefined {
    return this.roles.get(`${namespace}/${name}`);
  }

  allClusterRoles(): Iterable<ClusterRole> {
    return this.clusterRoles.values();
  }

  /** Rules of a binding's roleRef, or the upstream "not found" error text when the role does not exist. */
  rulesOf(roleRef: { kind: string; name: string }, namespace: string): { rules: PolicyRule[] } | { error: string } {
    if (roleRef.kind === 'ClusterRole') {
      const role = this.clusterRoles.get(roleRef.name);
      return role ? { rules: role.rules ?? [] } : { error: `clusterrole.rbac.authorization.k8s.io ${JSON.stringify(roleRef.name)} not found` };
    }
    if (roleRef.kind === 'Role') {
      const role = this.roles.get(`${namespace}/${roleRef.name}`);
      return role ? { rules: role.rules ?? [] } : { error: `role.rbac.authorization.k8s.io ${JSON.stringify(roleRef.name)} not found` };
    }
    return { error: `unsupported role reference kind: ${JSON.stringify(roleRef.kind)}` };
  }

  /**
   * The ClusterRoleBindings naming the user, then (for a namespace) the RoleBindings of that namespace naming it:
   * upstream VisitRulesFor's order. Each binding once, even when it names the user by several subjects. (Plain loops
   * and arrays: this runs on every request.)
   */
  bindingsFor(user: UserInfo, namespace: string): BindingMatch[] {
    this.beforeRead();
    const out: BindingMatch[] = [];
    collect(this.clusterSubjects, user, 'ClusterRoleBinding', out);
    if (namespace) {
      const index = this.namespaceSubjects.get(namespace);
      if (index) collect(index, user, 'RoleBinding', out);
    }
    return out;
  }

  get size(): { roles: number; clusterRoles: number; roleBindings: number; clusterRoleBindings: number } {
    return { roles: this.roles.size, clusterRoles: this.clusterRoles.size, roleBindings: this.roleBindings.size, clusterRoleBindings: this.clusterBindings.size };
  }

  private addEntry(index: SubjectIndex, binding: RoleBinding | ClusterRoleBinding, namespace: string): Entry {
    const entry: Entry = { binding, subjects: new Map() };
    for (const s of binding.subjects ?? []) {
      const key = subjectKey(s, namespace);
      if (key === undefined || entry.subjects.has(key)) continue;
      entry.subjects.set(key, s);
      let set = index.get(key);
      if (!set) index.set(key, (set = new Set()));
      set.add(entry);
    }
    return entry;
  }

  private changed(kind: RbacKind, obj: KubeObject): void {
    this.generation++;
    for (const fn of this.listeners) fn(kind, obj);
  }
}

function removeEntry(index: SubjectIndex, entry: Entry): void {
  for (const key of entry.subjects.keys()) {
    const set = index.get(key);
    if (!set) continue;
    set.delete(entry);
    if (set.size === 0) index.delete(key);
  }
}

function collect(index: SubjectIndex, user: UserInfo, kind: BindingMatch['kind'], out: BindingMatch[]): void {
  const start = out.length;
  let hits = 0;
  const add = (key: string) => {
    const set = index.get(key);
    if (!set) return;
    hits++;
    for (const entry of set) {
      // A binding naming the user by several subjects (its name and a group) counts once; rare, so a scan.
      if (hits > 1 && out.some((m, i) => i >= start && m.binding === entry.binding)) continue;
      out.push({ kind, binding: entry.binding, subject: entry.subjects.get(key)! });
    }
  };
  add(`u:${user.username}`);
  for (const g of user.groups) add(`g:${g}`);
}
