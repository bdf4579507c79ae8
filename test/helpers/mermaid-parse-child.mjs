// Mermaid's parser in a plain Node process (jsdom needs an ES-module-only dependency that jest's module
// loader cannot require): one JSON request a line on stdin ({id, text}), one JSON answer a line on stdout.
import { createInterface } from 'node:readline';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid/dist/mermaid.core.mjs');
mermaid.initialize({ startOnLoad: false });

const list = (v) => (v instanceof Map ? [...v.values()] : Array.isArray(v) ? v : []);

async function answer(text) {
  const { diagramType, config } = await mermaid.parse(text);
  const { db } = await mermaid.mermaidAPI.getDiagramFromText(text);
  const out = { diagramType, config };
  if (db.getTasks) {
    out.tasks = db.getTasks().map((t) => ({ section: t.section, task: t.task, start: t.startTime.toISOString().slice(0, 10), end: t.endTime.toISOString().slice(0, 10), crit: Boolean(t.crit) }));
    out.sections = db.getSections();
    out.links = [...(db.getLinks?.() ?? new Map()).keys()];
  }
  if (db.getVertices) {
    out.vertices = list(db.getVertices()).map((v) => ({ id: v.id, text: v.text, link: v.link ?? null, haveCallback: Boolean(v.haveCallback) }));
    out.edges = db.getEdges().map((e) => ({ start: e.start, end: e.end, text: e.text }));
    out.subgraphs = db.getSubGraphs().map((s) => ({ id: s.id, title: s.title, nodes: s.nodes }));
    out.classes = [...(db.getClasses?.() ?? new Map()).keys()];
  }
  return out;
}

process.stdout.write('{"ready":true}\n');
for await (const line of createInterface({ input: process.stdin })) {
  const { id, text } = JSON.parse(line);
  try {
    process.stdout.write(`${JSON.stringify({ id, ok: true, ...(await answer(text)) })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ id, ok: false, error: String(e?.message ?? e) })}\n`);
  }
}
