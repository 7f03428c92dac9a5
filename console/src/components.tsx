/** Small shared pieces: tables, ages, status badges, sparklines. Every value is rendered as text (JSX escapes it). */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { openWatches, useTick } from './hooks.js';
import type { Watched } from './hooks.js';

export function age(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return '';
  const s = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function Link(props: { to: string; children: ComponentChildren; testid?: string }) {
  return (
    <a href={`#${props.to}`} data-testid={props.testid}>
      {props.children}
    </a>
  );
}

const BAD = /BackOff|Err|Error|Failed|OOM|Invalid|Unknown|Evicted|NotReady|False/;
export function Badge(props: { text: string; testid?: string }) {
  const cls = /^(Running|Ready|Active|Completed|Succeeded|True|Normal)$/.test(props.text) ? 'ok' : BAD.test(props.text) ? 'bad' : 'warn';
  return (
    <span class={`badge ${cls}`} data-testid={props.testid}>
      {props.text}
    </span>
  );
}

/** A table that renders at most `limit` rows (5,000 live pods stay cheap); "show more" raises the limit. */
export function Table<T>(props: { head: string[]; rows: T[]; row: (item: T) => ComponentChildren; empty?: string; testid?: string }) {
  const [limit, setLimit] = useState(300);
  const shown = props.rows.length > limit ? props.rows.slice(0, limit) : props.rows;
  return (
    <div class="table-wrap">
      <table data-testid={props.testid}>
        <thead>
          <tr>
            {props.head.map((h) => (
              <th key={h}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>{shown.map(props.row)}</tbody>
      </table>
      {props.rows.length === 0 && <p class="muted">{props.empty ?? 'None.'}</p>}
      {props.rows.length > limit && (
        <p class="muted">
          Showing {limit} of {props.rows.length}.{' '}
          <button onClick={() => setLimit(limit + 1000)}>Show more</button>
        </p>
      )}
    </div>
  );
}

export function WatchNote(props: { w: Watched<unknown> }) {
  if (props.w.state === 'live') return null;
  return (
    <p class="notice" data-testid="watch-note">
      {props.w.state === 'connecting' ? 'Loading…' : props.w.state === 'forbidden' ? `Not allowed: ${props.w.error ?? ''}` : `Reconnecting: ${props.w.error ?? ''}`}
    </p>
  );
}

/** Live/reconnecting indicator over all open watches. */
export function ConnectionStatus() {
  // Its own quick tick: the page's watches open in effects after the shell has rendered.
  useTick(250);
  const watches = openWatches();
  const down = watches.filter((w) => w.state === 'connecting' || w.state === 'reconnecting');
  const text = watches.length === 0 ? 'idle' : down.length === 0 ? 'live' : 'reconnecting';
  return (
    <span class={`conn ${text}`} data-testid="connection" title={down[0]?.error ?? ''}>
      {text}
    </span>
  );
}

/** A sparkline of numbers (SVG built from numbers only). */
export function Sparkline(props: { values: number[]; label: string; format: (v: number) => string; testid?: string }) {
  const w = 160;
  const h = 36;
  // One sample draws a flat line rather than nothing.
  const vs = props.values.length === 1 ? [props.values[0]!, props.values[0]!] : props.values;
  const max = Math.max(...vs, 1e-9);
  const pts = vs.map((v, i) => `${vs.length === 1 ? w : (i * w) / (vs.length - 1)},${h - (v / max) * (h - 2) - 1}`).join(' ');
  return (
    <div class="spark" data-testid={props.testid}>
      <svg width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={props.label}>
        <polyline points={pts} fill="none" stroke="currentColor" stroke-width="1.5" />
      </svg>
      <span>
        {props.label}: {vs.length ? props.format(vs[vs.length - 1]!) : '–'}
      </span>
    </div>
  );
}

export function formatCpu(cores: number): string {
  return cores < 1 ? `${Math.round(cores * 1000)}m` : `${cores.toFixed(2)}`;
}

export function formatBytes(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(1)}Gi`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(0)}Mi`;
  return `${(b / 2 ** 10).toFixed(0)}Ki`;
}
