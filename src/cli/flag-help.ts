/** `skiff server --help` and `skiff agent --help`, generated from the flag catalogue. */
import { FLAGS, type Command } from './flag-catalogue.js';

const NAME_COLUMN = 38;

const INTRO: Record<Command, string[]> = {
  server: [
    'Usage: skiff server [flags]',
    '',
    'Runs the control plane on this machine: API server, store, scheduler and controllers, and simulated nodes',
    'with --simulate-nodes.',
  ],
  agent: [
    'Usage: skiff agent --server URL --token TOKEN [flags]',
    '',
    'Joins the cluster served at URL with N simulated nodes. Before it sends the token, it checks the CA that the',
    "server presents against the token's CA hash (the K10... form in the server's <data-dir>/server/token).",
  ],
};

/** Every flag the command takes, except those hidden because they change nothing yet, with env variable and default. */
export function commandHelp(command: Command): string {
  const rows = FLAGS.filter((f) => f.commands.includes(command) && f.noEffect?.[command] === undefined).map((f) => {
    const short = f.aliases?.find((a) => a.length === 1);
    const longAliases = (f.aliases ?? []).filter((a) => a.length > 1).map((a) => `, --${a}`).join('');
    const names = `${short ? `-${short}, ` : '    '}--${f.name}${longAliases}${f.arg ? ` ${f.arg}` : ''}`;
    const shownDefault = (typeof f.defaultText === 'object' ? f.defaultText[command] : f.defaultText) ?? f.default;
    const notes = [f.env ? `$${f.env}` : '', shownDefault ? `default: ${shownDefault}` : ''].filter((s) => s !== '').join('; ');
    return { names, text: notes === '' ? f.help : `${f.help} [${notes}]` };
  });
  // Names longer than the column put their text on the next line, so one long flag does not push every text right.
  const width = Math.min(NAME_COLUMN, Math.max(...rows.map((r) => r.names.length)) + 2);
  return [
    ...INTRO[command],
    '',
    'Values come from flags, then SKIFF_* environment variables, then the config file (keys are flag names), then defaults.',
    '',
    'Flags:',
    ...rows.map((r) => (r.names.length + 2 > width ? `  ${r.names}\n  ${''.padEnd(width)}${r.text}` : `  ${r.names.padEnd(width)}${r.text}`)),
    '',
  ].join('\n');
}
