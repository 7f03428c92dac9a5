/**
 * Resolves a command's flags from the catalogue: command line > `SKIFF_*` environment > config file > default.
 * A list set at a higher level replaces the lower level's list rather than merging with it. Unknown flags and
 * unknown config keys are errors (a typo should not be silently ignored); so are flags the catalogue marks
 * unsupported for this command, with the reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { DEFAULT_CONFIG_FILE, FLAGS, type Command, type FlagSpec } from './flag-catalogue.js';
import { FlagError } from './flag-error.js';
import { bool, splitList, type Where } from './flag-values.js';

/** Facts about the machine that decide defaults; injectable so tests do not depend on who runs them. */
export interface HostFacts {
  uid: number;
  home: string;
  hostname: string;
  /** Read when no --config / SKIFF_CONFIG_FILE is given, if it exists. */
  defaultConfigFile: string;
}

export interface ParsedFlags {
  /** `-h`/`--help` was given: nothing else was read, and `values` holds defaults only. */
  help: boolean;
  /** Typed values by flag name, defaults included; a flag without value or default is absent. */
  values: Map<string, unknown>;
  /** Names of the flags set by the command line, the environment or the config file (not defaults). */
  given: ReadonlySet<string>;
  /** The config file that was read, if any. */
  configFile?: string;
  /** Lines to log at start about flags that were accepted but change nothing yet. */
  notices: string[];
  host: HostFacts;
}

type Source = 'flag' | 'env' | 'config';
type RawValue = string | boolean | string[];

interface Raw {
  spec: FlagSpec;
  value: RawValue;
  where: Where;
}

/** Looks a flag up by its long name or any alias. */
const BY_NAME = new Map<string, FlagSpec>(FLAGS.flatMap((f) => [[f.name, f] as const, ...(f.aliases ?? []).map((a) => [a, f] as const)]));

/**
 * Parses `argv` (the arguments after `skiff <command>`), the environment and the config file. Throws FlagError
 * naming the flag, its source and the value. With `--help` nothing else is read or validated: k3s once failed to
 * print help when its config file was unreadable (k3s-io/k3s#7272), and help must always work.
 */
export function parseFlags(command: Command, argv: string[], env: NodeJS.ProcessEnv, host: Partial<HostFacts> = {}): ParsedFlags {
  const facts: HostFacts = {
    uid: host.uid ?? process.getuid?.() ?? -1,
    home: host.home ?? env.HOME ?? homedir(),
    hostname: host.hostname ?? hostname(),
    defaultConfigFile: host.defaultConfigFile ?? DEFAULT_CONFIG_FILE,
  };
  if (wantsHelp(argv)) return { help: true, values: resolve(command, new Map()), given: new Set(), notices: [], host: facts };

  const cli = parseCommandLine(command, argv);
  const explicitConfig = cli.get('config')?.value ?? nonEmpty(env.SKIFF_CONFIG_FILE);
  const configFile = typeof explicitConfig === 'string' ? explicitConfig : existsSync(facts.defaultConfigFile) ? facts.defaultConfigFile : undefined;

  const layered = new Map<string, Raw>();
  if (configFile !== undefined) for (const raw of readConfigFile(command, configFile)) layered.set(raw.spec.name, raw);
  for (const spec of FLAGS) {
    const text = spec.env === undefined ? undefined : nonEmpty(env[spec.env]);
    if (text === undefined || !spec.commands.includes(command) && spec.unsupported?.[command] === undefined) continue;
    const where = { flag: `--${spec.name}`, text: `${spec.env} (--${spec.name})` };
    refuseUnsupported(command, spec, where.text);
    const value = spec.type === 'boolean' ? bool(text, where) : spec.type === 'list' ? splitList(text) : text;
    layered.set(spec.name, { spec, value, where });
  }
  for (const [name, raw] of cli) layered.set(name, raw);

  const notices: string[] = [];
  for (const raw of layered.values()) {
    const note = raw.spec.noEffect?.[command];
    if (note !== undefined && raw.value !== false) notices.push(`${raw.where.text} has no effect: ${note}`);
  }
  return { help: false, values: resolve(command, layered), given: new Set(layered.keys()), ...(configFile !== undefined ? { configFile } : {}), notices, host: facts };
}

/** `-h`/`--help` anywhere before `--` wins over every other flag, even malformed ones. */
function wantsHelp(argv: string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

function refuseUnsupported(command: Command, spec: FlagSpec, where: string): void {
  const reason = spec.unsupported?.[command];
  if (reason !== undefined) throw new FlagError(`${where} is not supported yet: ${reason}`, `--${spec.name}`);
}

function parseCommandLine(command: Command, argv: string[]): Map<string, Raw> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const f of FLAGS) {
    const type = f.type === 'boolean' ? 'boolean' : 'string';
    const short = f.aliases?.find((a) => a.length === 1);
    options[f.name] = { type, ...(short ? { short } : {}), ...(f.type === 'list' ? { multiple: true } : {}) };
    for (const alias of f.aliases ?? []) if (alias.length > 1) options[alias] = { type };
  }
  // Non-strict parsing hands back every token, so errors can be worded here, naming the flag.
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const out = new Map<string, Raw>();
  for (const token of tokens) {
    if (token.kind === 'positional') {
      throw new FlagError(`unexpected argument ${JSON.stringify(token.value)}: skiff ${command} takes only flags (see 'skiff ${command} --help')`, '', token.value);
    }
    if (token.kind !== 'option') continue;
    const spec = BY_NAME.get(token.name);
    if (spec === undefined) throw new FlagError(`unknown flag ${token.rawName} (see 'skiff ${command} --help')`, token.rawName);
    const flag = `--${spec.name}`;
    refuseUnsupported(command, spec, `flag ${token.rawName}`);
    if (!spec.commands.includes(command)) {
      throw new FlagError(`flag ${token.rawName} is not a flag of skiff ${command} (it belongs to skiff ${spec.commands.join(' and skiff ')}; see 'skiff ${command} --help')`, flag);
    }
    const where = { flag, text: flag };
    if (spec.type === 'boolean') {
      // `--debug=false` is how Go CLIs (k3s) turn a boolean off explicitly.
      out.set(spec.name, { spec, value: token.value === undefined ? true : bool(token.value, where), where });
      continue;
    }
    if (token.value === undefined) throw new FlagError(`flag ${flag} needs a value`, flag);
    if (!token.inlineValue && token.value.startsWith('-') && BY_NAME.has(token.value.replace(/^--?/, '').split('=')[0]!)) {
      throw new FlagError(`flag ${flag} needs a value, but is followed by flag ${token.value}`, flag, token.value);
    }
    if (spec.type === 'list') {
      const prev = out.get(spec.name)?.value;
      out.set(spec.name, { spec, value: [...(Array.isArray(prev) ? prev : []), ...splitList(token.value)], where });
    } else {
      out.set(spec.name, { spec, value: token.value, where });
    }
  }
  return out;
}

/** The YAML parser, loaded when a config file is read: an agent without one never holds it. */
function loadYaml(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml');
}

function readConfigFile(command: Command, path: string): Raw[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FlagError(`cannot read config file ${path}: ${(err as Error).message}`, '--config', path);
  }
  let doc: unknown;
  try {
    // The failsafe schema keeps every scalar as the text written, so `write-kubeconfig-mode: 0644`
    // stays "0644" instead of becoming the decimal number 644 or 420.
    doc = loadYaml().parse(text, { schema: 'failsafe' });
  } catch (err) {
    throw new FlagError(`config file ${path} is not valid YAML: ${(err as Error).message}`, '--config', path);
  }
  if (doc === null || doc === undefined || doc === '') return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new FlagError(`config file ${path} must be a mapping of flag names to values`, '--config', path);
  }
  const out: Raw[] = [];
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const spec = BY_NAME.get(key);
    if (spec === undefined || spec.name !== key || spec.configKey === false) {
      throw new FlagError(`config file ${path}: unknown key ${JSON.stringify(key)} (keys are flag names without dashes, e.g. data-dir)`, `--${key}`);
    }
    const where = { flag: `--${key}`, text: `${key} in ${path}` };
    refuseUnsupported(command, spec, where.text);
    // One file may serve a server and an agent on the same machine, as k3s's does: the other command's keys wait for it.
    if (!spec.commands.includes(command)) continue;
    if (spec.type === 'list') {
      if (typeof value === 'string') out.push({ spec, value: splitList(value), where });
      else if (Array.isArray(value) && value.every((x) => typeof x === 'string')) out.push({ spec, value: value.flatMap(splitList), where });
      else throw new FlagError(`invalid value for ${where.text}: expected a string or a list of strings`, where.flag);
    } else if (typeof value !== 'string') {
      throw new FlagError(`invalid value for ${where.text}: expected a single value, not a ${Array.isArray(value) ? 'list' : 'mapping'}`, where.flag);
    } else {
      out.push({ spec, value: spec.type === 'boolean' ? bool(value, where) : value, where });
    }
  }
  return out;
}

/** Typed values of the command's flags: the layered value through the flag's parser, else its default. */
function resolve(command: Command, layered: Map<string, Raw>): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const spec of FLAGS) {
    if (!spec.commands.includes(command)) continue;
    const raw = layered.get(spec.name);
    if (raw !== undefined) {
      values.set(spec.name, typeof raw.value === 'string' && spec.parse !== undefined ? spec.parse(raw.value, raw.where) : raw.value);
    } else if (spec.default !== undefined) {
      const where = { flag: `--${spec.name}`, text: `the default of --${spec.name}` };
      values.set(spec.name, spec.parse !== undefined ? spec.parse(spec.default, where) : spec.default);
    }
  }
  return values;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
