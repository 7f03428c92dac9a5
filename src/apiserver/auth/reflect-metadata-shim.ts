/**
 * @peculiar/x509 2.x loads tsyringe, which refuses to start unless a `Reflect.getMetadata` polyfill is
 * installed (the library's README asks for the `reflect-metadata` package). That package is not a
 * dependency of skiff, so this module installs the three functions tsyringe calls
 * (getMetadata, getOwnMetadata, defineMetadata), and only when no real polyfill is present.
 * Import it before `@peculiar/x509`; ESM evaluates imports in source order.
 */
type MetadataTable = Map<unknown, unknown>;

interface ReflectWithMetadata {
  getMetadata?: (key: unknown, target: object) => unknown;
  getOwnMetadata?: (key: unknown, target: object) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: object) => void;
}

const reflect = Reflect as unknown as ReflectWithMetadata;

if (typeof reflect.getMetadata !== 'function') {
  const tables = new WeakMap<object, MetadataTable>();
  const own = (key: unknown, target: object): unknown => tables.get(target)?.get(key);
  reflect.getOwnMetadata = own;
  // Like reflect-metadata, inherited metadata is found by walking the prototype chain.
  reflect.getMetadata = (key, target) => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
      const table = tables.get(t);
      if (table?.has(key)) return table.get(key);
    }
    return undefined;
  };
  reflect.defineMetadata = (key, value, target) => {
    let table = tables.get(target);
    if (table === undefined) tables.set(target, (table = new Map()));
    table.set(key, value);
  };
}

export {};
