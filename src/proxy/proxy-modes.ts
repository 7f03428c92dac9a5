/**
 * The `--proxy-mode` values (kube-proxy's names), apart from the proxy itself: the flag catalogue reads them for every
 * command, which should not load the iptables, nftables and userspace proxiers to check a flag.
 */
export const PROXY_MODES = ['iptables', 'nftables', 'userspace'] as const;
export type ProxyMode = (typeof PROXY_MODES)[number];

export const IMPLEMENTED_PROXY_MODES: readonly ProxyMode[] = ['iptables', 'nftables', 'userspace'];

/** Why a --proxy-mode value is refused, or undefined when it is accepted. */
export function proxyModeRefusal(value: string): string | undefined {
  if ((IMPLEMENTED_PROXY_MODES as readonly string[]).includes(value)) return undefined;
  if ((PROXY_MODES as readonly string[]).includes(value)) return `proxy mode ${value} is not implemented yet; skiff's service proxy runs in mode ${IMPLEMENTED_PROXY_MODES.join(', ')}`;
  if (value === 'ipvs' || value === 'kernelspace') return `proxy mode ${value} is not built (this kernel has no IP_VS); must be one of ${IMPLEMENTED_PROXY_MODES.join(', ')}`;
  return `must be one of ${IMPLEMENTED_PROXY_MODES.join(', ')}`;
}
