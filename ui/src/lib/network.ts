/** Whether a listening address (`host:port`, `[v6]:port` or a bare IP) is reachable only from this computer. */
export function isLoopback(address: string): boolean {
  let host = address.trim();
  if (host.startsWith("[")) host = host.slice(1, host.indexOf("]"));
  else if (host.split(":").length === 2) host = host.split(":")[0] ?? host;
  return host === "::1" || host === "localhost" || /^127\./.test(host);
}
