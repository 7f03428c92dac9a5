/** Apply YAML of any kind (one or more documents) with server-side apply; each document's outcome or Status shown. */
import { useState } from 'preact/hooks';
import { parseAllDocuments } from 'yaml';
import { ApiError, applyObject, resourceTypeFor } from './api.js';

export function ApplyPage(props: { ns: string }) {
  const [text, setText] = useState('');
  const [results, setResults] = useState<string[]>([]);
  const [force, setForce] = useState(false);
  const apply = async () => {
    const out: string[] = [];
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) {
        out.push(`invalid YAML: ${doc.errors[0]!.message}`);
        continue;
      }
      const obj = doc.toJSON() as { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } } | null;
      if (!obj) continue;
      const what = `${obj.kind ?? '?'}/${obj.metadata?.name ?? '?'}`;
      try {
        if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) throw new ApiError('apiVersion, kind and metadata.name are required', 400, 'BadRequest');
        const type = await resourceTypeFor(obj.apiVersion, obj.kind);
        const ns = type.namespaced ? obj.metadata.namespace ?? (props.ns || 'default') : undefined;
        await applyObject(type, ns, obj.metadata.name, JSON.stringify(obj), force);
        out.push(`${what} applied`);
      } catch (err) {
        out.push(`${what}: ${err instanceof ApiError ? `${err.reason || 'Error'} (${err.code}): ` : ''}${(err as Error).message}`);
      }
    }
    setResults(out);
  };
  return (
    <section>
      <h1>Apply YAML</h1>
      <textarea class="yaml" value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} placeholder="apiVersion: v1\nkind: ConfigMap\n..." spellcheck={false} data-testid="apply-yaml" />
      <p>
        <button onClick={apply} data-testid="apply">
          Apply (server-side)
        </button>{' '}
        <label>
          <input type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} /> force conflicts
        </label>
      </p>
      <ul data-testid="apply-results">
        {results.map((r, i) => (
          <li key={i}>{r}</li>
        ))}
      </ul>
    </section>
  );
}
