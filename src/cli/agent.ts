/**
 * `skiff agent`: joins an existing server. For now the agent runs simulated nodes (`--simulate N`, kwok-style): real
 * container runtimes come with the node agent. Like k3s, the agent takes the server URL and the cluster token, fetches
 * the CA from /cacerts and, when the token is in its K10<sha256 of the CA>::server:<secret> form, refuses a CA whose
 * hash differs, before it sends the secret anywhere.
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { SimulatedNodes } from '../agent/simulated/simulated-nodes.js';
import { parseToken } from '../apiserver/auth/cluster-token.js';
import { HttpsTransport } from '../client/https-transport.js';
import { SharedInformerFactory } from '../client/informer.js';
import { RestClient } from '../client/rest-client.js';
import { realClock } from '../client/types.js';

export interface AgentConfig {
  server: string;
  token: string;
  simulate: number;
  nodeName: string;
  simulateNodeCapacity?: Record<string, string>;
}

export class AgentFlagError extends Error {}

export const AGENT_HELP = `Usage: skiff agent --server URL --token TOKEN --simulate N [flags]

Joins the cluster served at URL. Flags (environment fallbacks in brackets):
  --server URL, -s URL        https://host:6443 of a skiff server [SKIFF_URL]
  --token TOKEN, -t TOKEN     cluster token, from <data-dir>/server/token on the server [SKIFF_TOKEN]
  --simulate N                register N simulated nodes named <node-name>-sim-<i> [SKIFF_AGENT_SIMULATE]
  --simulate-node-capacity L  capacity of each simulated node, e.g. cpu=32,memory=256Gi,pods=110
  --node-name NAME            this agent's name (default: hostname) [SKIFF_NODE_NAME]
`;

export function parseAgentFlags(argv: string[], env: NodeJS.ProcessEnv): AgentConfig | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        server: { type: 'string', short: 's' },
        token: { type: 'string', short: 't' },
        simulate: { type: 'string' },
        'simulate-node-capacity': { type: 'string' },
        'node-name': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (err) {
    throw new AgentFlagError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const server = v.server ?? env.SKIFF_URL;
  const token = v.token ?? env.SKIFF_TOKEN;
  const simulateText = v.simulate ?? env.SKIFF_AGENT_SIMULATE;
  if (!server || !/^https:\/\//.test(server)) throw new AgentFlagError(`--server: need the https:// URL of a skiff server (got ${JSON.stringify(server ?? '')})`);
  if (!token) throw new AgentFlagError('--token: need the cluster token (the server keeps it in <data-dir>/server/token)');
  if (!simulateText || !/^\d+$/.test(simulateText) || Number(simulateText) < 1) {
    throw new AgentFlagError(`--simulate: need a number of simulated nodes >= 1 (got ${JSON.stringify(simulateText ?? '')}); real container runtimes are not available in the agent yet`);
  }
  const nodeName = (v['node-name'] ?? env.SKIFF_NODE_NAME ?? hostname()).toLowerCase();
  let capacity: Record<string, string> | undefined;
  if (v['simulate-node-capacity']) {
    capacity = {};
    for (const item of v['simulate-node-capacity'].split(',')) {
      const m = /^([a-z0-9./-]+)=([0-9.]+[a-zA-Z]*)$/.exec(item.trim());
      if (!m) throw new AgentFlagError(`--simulate-node-capacity: ${JSON.stringify(item)} is not name=quantity`);
      capacity[m[1]] = m[2];
    }
  }
  return { server: server.replace(/\/+$/, ''), token, simulate: Number(simulateText), nodeName, ...(capacity ? { simulateNodeCapacity: capacity } : {}) };
}

/** Fetches the server's CA from /cacerts without trusting it yet, then checks it against the token's hash. */
export async function fetchClusterCA(server: string, caHash: string | undefined): Promise<string> {
  const url = new URL('/cacerts', server);
  const pem = await new Promise<string>((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`GET ${url.href}: HTTP ${res.statusCode}`));
          else resolve(Buffer.concat(chunks).toString('utf8'));
        });
      })
      .on('error', (err) => reject(new Error(`cannot reach ${server}: ${err.message}`)));
  });
  if (caHash !== undefined) {
    const actual = createHash('sha256').update(pem).digest('hex');
    if (actual !== caHash) throw new Error(`the CA served by ${server} (sha256 ${actual}) does not match the token's CA hash ${caHash}; refusing to join`);
  } else {
    console.warn(`skiff agent: the token has no CA hash (use the K10... form from the server's token file to verify the server); trusting the CA served by ${server}`);
  }
  return pem;
}

export async function runAgent(config: AgentConfig, log: (line: string) => void = (l) => console.log(l)): Promise<{ stop(): Promise<void> }> {
  const parsed = parseToken(config.token);
  const ca = await fetchClusterCA(config.server, parsed.caHash);
  const client = new RestClient(new HttpsTransport({ server: config.server, ca, token: parsed.secret }));
  const informers = new SharedInformerFactory(client);
  const nodes = new SimulatedNodes({
    client,
    informers,
    clock: realClock,
    count: config.simulate,
    namePrefix: `${config.nodeName}-sim`,
    ...(config.simulateNodeCapacity ? { capacity: config.simulateNodeCapacity } : {}),
  });
  nodes.start();
  await nodes.waitForRegistration();
  log(`skiff agent ready: ${config.simulate} simulated nodes (${config.nodeName}-sim-0 ...) registered with ${config.server}`);
  return {
    async stop() {
      nodes.stop();
      informers.stop();
    },
  };
}
