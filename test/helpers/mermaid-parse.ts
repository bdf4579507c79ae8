/**
 * Mermaid's own parser, run under jsdom in one plain Node child process per test file (mermaid-parse-child.mjs:
 * jsdom needs an ES-module-only dependency that jest's module loader cannot require). `parseMermaid`
 * resolves with the diagram's type, any configuration a directive set, and the parsed diagram's data (tasks,
 * sections, links; vertices, edges, subgraphs, classes) for structure checks; it rejects what mermaid cannot
 * parse. Call `stopMermaid` in afterAll.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './example.js';

export interface ParsedMermaid {
  diagramType: string;
  config: Record<string, unknown>;
  tasks?: Array<{ section: string; task: string; start: string; end: string; crit: boolean }>;
  sections?: string[];
  links?: string[];
  vertices?: Array<{ id: string; text: string; link: string | null; haveCallback: boolean }>;
  edges?: Array<{ start: string; end: string; text: string }>;
  subgraphs?: Array<{ id: string; title: string; nodes: string[] }>;
  classes?: string[];
}

const TIMEOUT_MS = 30_000;
let child: ChildProcessWithoutNullStreams | undefined;
let ready: Promise<void> | undefined;
const waiting = new Map<number, { resolve: (v: ParsedMermaid) => void; reject: (e: Error) => void }>();
let nextId = 0;

function start(): Promise<void> {
  ready ??= new Promise<void>((resolve, reject) => {
    child = spawn(process.execPath, [path.join(REPO_ROOT, 'test/helpers/mermaid-parse-child.mjs')], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => reject(new Error('mermaid did not load within 30 s')), TIMEOUT_MS);
    child.on('error', reject);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line);
      if (msg.ready) {
        clearTimeout(timer);
        resolve();
        return;
      }
      const w = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.ok) w?.resolve(msg);
      else w?.reject(new Error(`mermaid could not parse it: ${msg.error}`));
    });
  });
  return ready;
}

export async function parseMermaid(text: string): Promise<ParsedMermaid> {
  await start();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('mermaid did not answer within 30 s')), TIMEOUT_MS);
    waiting.set(id, { resolve: (v) => (clearTimeout(timer), resolve(v)), reject: (e) => (clearTimeout(timer), reject(e)) });
    child!.stdin.write(`${JSON.stringify({ id, text })}\n`);
  });
}

export function stopMermaid(): void {
  child?.kill();
  child = undefined;
  ready = undefined;
}
