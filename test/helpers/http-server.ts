/** What the local stand-in servers (GitHub, Matrix) share: JSON answers and request bodies. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function json(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A failure asked for on demand: the `nth` request matching `method` and `path` gets it, once. */
export interface OnDemandFailure {
  method?: string;
  path?: RegExp;
  nth?: number;
  seen: number;
}

/** The failure this request should get, taken off the list, or undefined. */
export function takeFailure<F extends OnDemandFailure>(failures: F[], method: string, path: string): F | undefined {
  for (const f of failures) {
    if ((f.method && f.method !== method) || (f.path && !f.path.test(path))) continue;
    f.seen++;
    if (f.seen === (f.nth ?? 1)) {
      failures.splice(failures.indexOf(f), 1);
      return f;
    }
  }
  return undefined;
}
