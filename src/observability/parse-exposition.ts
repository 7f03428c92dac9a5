/**
 * A reader of the Prometheus text format (0.0.4) for tests and tools: every sample with its name, labels and value,
 * and the TYPE of each family. It refuses what Prometheus would refuse (bad names, unterminated label values), so a
 * test that reads the server's /metrics with it also checks that the exposition parses.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === '') continue;
    const fail = (why: string) => new Error(`line ${n + 1}: ${why}: ${JSON.stringify(line)}`);
    if (line.startsWith('#')) {
      const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (m) types.set(m[1]!, m[2]!);
      else if (line.startsWith('# TYPE')) throw fail('bad TYPE line');
      continue;
    }
    const name = NAME.exec(line)?.[0];
    if (!name) throw fail('bad metric name');
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const ln = LABEL_NAME.exec(line.slice(i))?.[0];
        if (!ln) throw fail('bad label name');
        i += ln.length;
        if (line[i] !== '=' || line[i + 1] !== '"') throw fail('want ="');
        i += 2;
        let v = '';
        for (;;) {
          const c = line[i];
          if (c === undefined) throw fail('unterminated label value');
          if (c === '"') break;
          if (c === '\\') {
            const e = line[i + 1];
            v += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : (() => { throw fail('bad escape'); })();
            i += 2;
            continue;
          }
          v += c;
          i++;
        }
        i++;
        if (ln in labels) throw fail(`label ${ln} twice`);
        labels[ln] = v;
        if (line[i] === ',') i++;
        else if (line[i] !== '}') throw fail('want , or }');
      }
      i++;
    }
    const rest = line.slice(i).trim().split(/\s+/);
    if (rest.length < 1 || rest.length > 2) throw fail('want a value and at most a timestamp');
    // Go's ParseFloat, as Prometheus reads values: NaN and Inf in any case (prom-client writes `Nan`).
    const word = rest[0]!.toLowerCase();
    const special = word === 'nan' ? NaN : /^[+]?inf(inity)?$/.test(word) ? Infinity : /^-inf(inity)?$/.test(word) ? -Infinity : undefined;
    const value = special ?? Number(rest[0]);
    if (special === undefined && (Number.isNaN(value) || rest[0] === '')) throw fail('bad value');
    const sample: Sample = { name, labels, value };
    if (rest[1] !== undefined) {
      if (!/^-?\d+$/.test(rest[1])) throw fail('bad timestamp');
      sample.timestampMs = Number(rest[1]);
    }
    samples.push(sample);
  }
  return { samples, types };
}

/** The samples named `name` whose labels include every pair in `match`. */
export function find(e: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}
