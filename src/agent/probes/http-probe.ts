/**
 * HTTP probe (pkg/probe/http/http.go DoHTTPProbe): 200-399 is success; a 3xx that was not followed (a redirect to
 * another host) is a warning, `Probe terminated redirects, Response body: ...`, which kubelet counts as success;
 * any other status is a failure `HTTP probe failed with statuscode: 500` (never the body, which may hold secrets:
 * issue 99425); no answer is a failure with the client's error (`Get "http://...": dial tcp ...: connect:
 * connection refused`). A body that cannot be read after the headers is `unknown` (kubelet: probe errored).
 */
import { HttpGetError, httpGet } from './http-client.js';
import type { HttpGetRequest } from './http-get-request.js';
import { type ProbeOutcome, errorMessage, failure, success, unknown } from './probe-outcome.js';

export async function httpProbe(request: HttpGetRequest, timeoutMs: number): Promise<ProbeOutcome> {
  let response;
  try {
    response = await httpGet(request, { timeoutMs, followNonLocalRedirects: false });
  } catch (err) {
    if (err instanceof HttpGetError && err.phase === 'body') return unknown(err.message);
    return failure(errorMessage(err));
  }
  const { statusCode } = response;
  if (statusCode >= 200 && statusCode < 400) {
    const body = response.body.toString('utf8');
    if (statusCode >= 300) return { result: 'warning', output: `Probe terminated redirects, Response body: ${body}` };
    return success(body);
  }
  return failure(`HTTP probe failed with statuscode: ${statusCode}`);
}
