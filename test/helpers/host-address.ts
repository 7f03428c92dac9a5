/**
 * A non-loopback IPv4 address of this host, for a server that the API server reaches as a Service's Endpoints, and a
 * test webhook server there.
 */
import { execFileSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { closeWebhookConnections } from '../../src/apiserver/admission/webhook/webhook-client.js';
import { startTestWebhookServer, type TestWebhookServer } from '../../src/apiserver/admission/webhook/webhook-testing.js';

export interface HostAddress {
  ip: string;
  /** Removes the dummy interface if one was made (the after() of the test); nothing otherwise. */
  cleanup(): void;
}

/**
 * The primary non-internal IPv4 address; on a host without one (a bare container), one on a dummy interface
 * `<linkPrefix><pid>` made here (needs root), in 198.18.0.0/15 by the pid so parallel test files do not collide.
 */
export function hostAddress(linkPrefix = 'skwh'): HostAddress {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return { ip: a.address, cleanup() {} };
  }
  const link = `${linkPrefix}${process.pid}`.slice(0, 15);
  const ip = `198.18.${(process.pid >> 8) & 255}.${(process.pid & 255) || 1}`;
  execFileSync('ip', ['link', 'add', link, 'type', 'dummy']);
  execFileSync('ip', ['addr', 'add', `${ip}/32`, 'dev', link]);
  execFileSync('ip', ['link', 'set', link, 'up']);
  return { ip, cleanup: () => execFileSync('ip', ['link', 'del', link]) };
}

export interface HostWebhook {
  host: HostAddress;
  hook: TestWebhookServer;
  /** Closes the API server's pooled webhook connections, the webhook server, and the dummy interface if any. */
  close(): Promise<void>;
}

/**
 * A test webhook server (src/apiserver/admission/webhook/webhook-testing.ts) on all addresses, its certificate for
 * the host address and `hostname` (`<service>.<namespace>.svc`), for a webhook reached through a Service with manual
 * Endpoints on this host (the after(): `close()`).
 */
export async function startHostWebhookServer(hostname: string, linkPrefix?: string): Promise<HostWebhook> {
  const host = hostAddress(linkPrefix);
  try {
    const hook = await startTestWebhookServer({ host: '0.0.0.0', ips: [host.ip], hostnames: [hostname] });
    return {
      host,
      hook,
      async close() {
        closeWebhookConnections();
        await hook.close();
        host.cleanup();
      },
    };
  } catch (err) {
    host.cleanup();
    throw err;
  }
}
