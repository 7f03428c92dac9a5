/** An object's YAML (managedFields left out), editable and applied with server-side apply. */
import { useEffect, useState } from 'preact/hooks';
import { parse, stringify } from 'yaml';
import { ApiError, applyObject, getJson, resourcePath, type ResourceType } from './api.js';

export function YamlPanel(props: { type: ResourceType; ns?: string; name: string }) {
  const [text, setText] = useState('');
  const [message, setMessage] = useState('');
  const [force, setForce] = useState(false);
  const load = async () => {
    try {
      const obj = await getJson<{ metadata?: Record<string, unknown> }>(resourcePath(props.type, props.ns, props.name));
      if (obj.metadata) delete obj.metadata.managedFields;
      setText(stringify(obj));
      setMessage('');
    } catch (err) {
      setMessage((err as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, [props.type, props.ns, props.name]);
  const apply = async () => {
    try {
      const obj = parse(text) as { metadata?: Record<string, unknown> };
      // Server-side apply takes the fields the user means to own: resourceVersion and status are left out.
      if (obj.metadata) {
        delete obj.metadata.resourceVersion;
        delete obj.metadata.managedFields;
      }
      delete (obj as Record<string, unknown>).status;
      await applyObject(props.type, props.ns, props.name, JSON.stringify(obj), force);
      setMessage('Applied.');
      await load();
      setMessage('Applied.');
    } catch (err) {
      setMessage(err instanceof ApiError ? `${err.reason || 'Error'} (${err.code}): ${err.message}` : (err as Error).message);
    }
  };
  return (
    <div>
      <textarea class="yaml" value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} spellcheck={false} data-testid="yaml" />
      <p>
        <button onClick={apply} data-testid="yaml-apply">
          Apply (server-side)
        </button>{' '}
        <label>
          <input type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} /> force conflicts
        </label>{' '}
        <button onClick={load}>Reload</button> <span data-testid="yaml-message">{message}</span>
      </p>
    </div>
  );
}
