/**
 * The answer to one DNS question about the cluster, as CoreDNS's kubernetes plugin gives it (coredns/coredns
 * plugin/kubernetes, and the DNS spec github.com/kubernetes/dns/blob/master/docs/specification.md):
 *
 *   <svc>.<ns>.svc.<zone>                   A/AAAA: the ClusterIPs; headless: every ready endpoint's address;
 *                                           ExternalName: a CNAME to spec.externalName (for every type)
 *   <label>.<svc>.<ns>.svc.<zone>           A/AAAA of the endpoint whose hostname (or dashed address) is <label>
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV of a named port: the Service (ClusterIP) or each endpoint (headless)
 *   <svc>.<ns>.svc.<zone> SRV               every named port, as above
 *   <a-b-c-d>.<ns>.pod.<zone>               A of the address in the name ("pods insecure": not checked against pods)
 *   reverse names                           PTR of ClusterIPs and endpoint addresses; others are forwarded
 *
 * Names in the zone that do not exist get NXDOMAIN, names that exist without the asked type get NOERROR with no
 * answers (NODATA); both carry the zone's SOA in the authority section, so resolvers cache the negative answer.
 * Search-path probes (`web.ns.svc.cluster.local.ns.svc.cluster.local`) are decided from the label count alone.
 * Everything outside the zone is for the upstream resolvers (`forward`).
 */
import type { Answer, Question } from 'dns-packet';
import { dashed, type DnsRecords, type RecordEndpoint, type ServiceRecord } from './dns-records.js';

export interface DnsAnswerOptions {
  /** The cluster domain without a trailing dot, lower case (cluster.local). */
  zone: string;
  /** TTL of every record (CoreDNS's default: 5 s). */
  ttl: number;
}

/** rcodes as numbers (RFC 1035 §4.1.1). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export type DnsDecision =
  | { kind: 'answer'; rcode: number; answers: Answer[]; authorities: Answer[]; additionals: Answer[] }
  | { kind: 'forward' };

/** Decides the answer to one question. Pure: the same question and records give the same answer. */
export function computeDnsAnswer(q: Question, records: DnsRecords, o: DnsAnswerOptions): DnsDecision {
  const qname = q.name.replace(/\.$/, '').toLowerCase();
  // dns-packet's types leave out ANY (255), which it decodes by that name.
  const type: string = q.type;
  if (qname.endsWith('.in-addr.arpa') || qname.endsWith('.ip6.arpa')) {
    const ip = reverseToIp(qname);
    const names = ip ? records.ptr(ip) : [];
    if (names.length === 0) return { kind: 'forward' };
    if (type !== 'PTR' && type !== 'ANY') return nodata(o, records);
    return answer(names.map((data) => ({ type: 'PTR', name: q.name, ttl: o.ttl, data })));
  }
  if (qname !== o.zone && !qname.endsWith(`.${o.zone}`)) return { kind: 'forward' };
  if ((q.class ?? 'IN') !== 'IN' && q.class !== 'ANY') return { kind: 'answer', rcode: RCODE.REFUSED, answers: [], authorities: [], additionals: [] };

  const labels = qname === o.zone ? [] : qname.slice(0, -(o.zone.length + 1)).split('.');
  const n = labels.length;
  if (n === 0) {
    if (type === 'SOA' || type === 'ANY') return answer([soa(o, records)]);
    if (type === 'NS') return answer([{ type: 'NS', name: o.zone, ttl: o.ttl, data: `ns.dns.${o.zone}` }]);
    return nodata(o, records);
  }
  const last = labels[n - 1];
  if (last === 'pod') {
    if (n === 1) return nodata(o, records);
    if (n === 2) return nodata(o, records);
    if (n !== 3) return nxdomain(o, records);
    const ip = undashed(labels[0]!);
    if (!ip) return nxdomain(o, records);
    const family = ip.includes(':') ? 'AAAA' : 'A';
    if (type !== family && type !== 'ANY') return nodata(o, records);
    return answer([{ type: family, name: q.name, ttl: o.ttl, data: ip }]);
  }
  if (last !== 'svc') return nxdomain(o, records);
  if (n === 1) return nodata(o, records);
  const ns = labels[n - 2]!;
  if (n === 2) return records.hasNamespace(ns) ? nodata(o, records) : nxdomain(o, records);
  const svc = records.service(ns, labels[n - 3]!);
  if (!svc) return nxdomain(o, records);
  const svcName = `${svc.name}.${svc.namespace}.svc.${o.zone}`;
  if (n === 3) return serviceAnswer(q, svc, svcName, records, o);
  if (n === 4) {
    if (svc.kind === 'ExternalName') return nxdomain(o, records);
    const eps = svc.endpoints.filter((ep) => ep.label === labels[0]);
    if (eps.length === 0) return nxdomain(o, records);
    return addressAnswer(q, eps.flatMap((ep) => ep.addresses), records, o);
  }
  if (n === 5 && labels[0]!.startsWith('_') && labels[1]!.startsWith('_')) {
    const portName = labels[0]!.slice(1);
    const proto = labels[1]!.slice(1);
    if (svc.kind === 'ExternalName') return nxdomain(o, records);
    const srv = srvRecords(q.name, svc, svcName, o, (p) => p.name === portName && p.protocol === proto);
    if (srv.answers.length === 0) return nxdomain(o, records);
    if (type !== 'SRV' && type !== 'ANY') return nodata(o, records);
    return answer(srv.answers, srv.additionals);
  }
  return nxdomain(o, records);
}

function serviceAnswer(q: Question, svc: ServiceRecord, svcName: string, records: DnsRecords, o: DnsAnswerOptions): DnsDecision {
  if (svc.kind === 'ExternalName') {
    // A CNAME answers every type; the client's resolver follows it (CoreDNS does not chase targets outside the zone).
    return answer([{ type: 'CNAME', name: q.name, ttl: o.ttl, data: svc.externalName! }]);
  }
  if (q.type === 'SRV') {
    const srv = srvRecords(q.name, svc, svcName, o, (p) => p.name !== '');
    return srv.answers.length ? answer(srv.answers, srv.additionals) : nodata(o, records);
  }
  const addresses = svc.kind === 'Headless' ? svc.endpoints.flatMap((ep) => ep.addresses) : svc.clusterIPs;
  return addressAnswer(q, addresses, records, o);
}

function addressAnswer(q: Question, addresses: string[], records: DnsRecords, o: DnsAnswerOptions): DnsDecision {
  const qtype: string = q.type;
  const want = (ip: string) => (qtype === 'ANY' ? true : qtype === 'AAAA' ? ip.includes(':') : qtype === 'A' ? !ip.includes(':') : false);
  const unique = [...new Set(addresses.filter(want))];
  if (unique.length === 0) return nodata(o, records);
  return answer(unique.map((ip) => ({ type: ip.includes(':') ? 'AAAA' : 'A', name: q.name, ttl: o.ttl, data: ip })));
}

/** SRV records of the ports `match` keeps: the Service's own port and name (ClusterIP), or each endpoint's (headless). */
function srvRecords(qname: string, svc: ServiceRecord, svcName: string, o: DnsAnswerOptions, match: (p: { name: string; protocol: string }) => boolean): { answers: Answer[]; additionals: Answer[] } {
  const targets: Array<{ port: number; target: string; ips: string[] }> = [];
  if (svc.kind === 'ClusterIP') {
    for (const p of svc.ports.filter(match)) targets.push({ port: p.port, target: svcName, ips: svc.clusterIPs });
  } else {
    for (const ep of svc.endpoints as RecordEndpoint[]) {
      for (const p of ep.ports.filter(match)) targets.push({ port: p.port, target: `${ep.label}.${svcName}`, ips: ep.addresses });
    }
  }
  // CoreDNS spreads weight 100 over the records of one priority.
  const weight = targets.length ? Math.max(1, Math.floor(100 / targets.length)) : 0;
  const answers: Answer[] = targets.map((t) => ({ type: 'SRV', name: qname, ttl: o.ttl, data: { priority: 0, weight, port: t.port, target: t.target } }));
  const additionals: Answer[] = [];
  const added = new Set<string>();
  for (const t of targets) {
    for (const ip of t.ips) {
      const key = `${t.target}|${ip}`;
      if (added.has(key)) continue;
      added.add(key);
      additionals.push({ type: ip.includes(':') ? 'AAAA' : 'A', name: t.target, ttl: o.ttl, data: ip });
    }
  }
  return { answers, additionals };
}

function answer(answers: Answer[], additionals: Answer[] = []): DnsDecision {
  return { kind: 'answer', rcode: RCODE.NOERROR, answers, authorities: [], additionals };
}

function nodata(o: DnsAnswerOptions, records: DnsRecords): DnsDecision {
  return { kind: 'answer', rcode: RCODE.NOERROR, answers: [], authorities: [soa(o, records)], additionals: [] };
}

function nxdomain(o: DnsAnswerOptions, records: DnsRecords): DnsDecision {
  return { kind: 'answer', rcode: RCODE.NXDOMAIN, answers: [], authorities: [soa(o, records)], additionals: [] };
}

/** The zone's SOA, as CoreDNS writes it (ns.dns.<zone>, hostmaster.<zone>; the minimum is the negative-cache TTL). */
export function soa(o: DnsAnswerOptions, records: DnsRecords): Answer {
  return {
    type: 'SOA',
    name: o.zone,
    ttl: o.ttl,
    data: { mname: `ns.dns.${o.zone}`, rname: `hostmaster.${o.zone}`, serial: records.serial >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: o.ttl },
  };
}

/** 4.3.2.1.in-addr.arpa → 1.2.3.4; 32 nibbles of ip6.arpa → the IPv6 address (lower case, compressed); else undefined. */
export function reverseToIp(name: string): string | undefined {
  if (name.endsWith('.in-addr.arpa')) {
    const parts = name.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) < 256)) return undefined;
    return parts.reverse().join('.');
  }
  const nibbles = name.slice(0, -'.ip6.arpa'.length).split('.');
  if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x))) return undefined;
  const hex = nibbles.reverse().join('');
  const groups = Array.from({ length: 8 }, (_, i) => String(parseInt(hex.slice(i * 4, i * 4 + 4), 16).toString(16)));
  return compressIPv6(groups);
}

function compressIPv6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** 10-42-0-5 → 10.42.0.5, fd00--1 → fd00::1; undefined when the label is no address. */
export function undashed(label: string): string | undefined {
  if (/^\d{1,3}(-\d{1,3}){3}$/.test(label)) {
    const parts = label.split('-').map(Number);
    return parts.every((p) => p < 256) ? parts.join('.') : undefined;
  }
  if (/^[0-9a-f-]+$/.test(label) && label.includes('-')) {
    const ip = label.replace(/-/g, ':');
    const groups = ip.split(':');
    const double = ip.split('::').length - 1;
    if (double > 1 || groups.length > 8 || (double === 0 && groups.length !== 8)) return undefined;
    if (!groups.every((g) => g.length <= 4)) return undefined;
    return ip;
  }
  return undefined;
}

export { dashed };
