#!/usr/bin/env node
// `node scripts/output-schemas.js [--check]`: the JSON Schema of every command's --json output, derived from
// the type its `run()` resolves to (src/commands/**), written to schema/output/<topic>-<verb>.schema.json,
// plus schema/output/error.schema.json for `{"error": ...}`. --check writes nothing and exits 1 when a
// committed schema differs from the types (test/commands/json-output-schemas.test.ts runs it), so the
// schemas are pinned to the code as salesforcecli/plugin-org pins its commands'.
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(repo, 'schema', 'output');
const ID_BASE = 'https://infra.example-coop.org/schema/output/';
const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

/** Every command file, as `topic-verb` (the command id with spaces as dashes) and its path. */
export function commandFiles() {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(path.join(repo, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      // `_shared/` holds the command layer's helpers, not commands; a command that is not an InfraCommand has no --json (the hidden __complete)
      if (e.isDirectory()) {
        if (!e.name.startsWith('_')) walk(r);
      } else if (e.name.endsWith('.ts') && /extends InfraCommand\b/.test(readFileSync(path.join(repo, r), 'utf8'))) out.push({ id: r.slice('src/commands/'.length, -3).split('/').join(' '), file: path.join(repo, r) });
    }
  };
  walk('src/commands');
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

export const schemaName = (id) => `${id.split(' ').join('-')}.schema.json`;

/** A JSON Schema for a TypeScript type, as JSON.stringify would print a value of it. */
function schemaOf(checker, type, where, stack = []) {
  const flags = type.getFlags();
  if (flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return {};
  if (flags & ts.TypeFlags.StringLiteral) return { const: type.value };
  if (flags & ts.TypeFlags.NumberLiteral) return { const: type.value };
  if (flags & ts.TypeFlags.BooleanLiteral) return { const: checker.typeToString(type) === 'true' };
  if (flags & (ts.TypeFlags.String | ts.TypeFlags.TemplateLiteral)) return { type: 'string' };
  if (flags & ts.TypeFlags.Number) return { type: 'number' };
  if (flags & ts.TypeFlags.Boolean) return { type: 'boolean' };
  if (flags & ts.TypeFlags.Null) return { type: 'null' };
  if (type.isUnion()) {
    const parts = type.types.filter((t) => !(t.getFlags() & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)));
    const bools = parts.filter((t) => t.getFlags() & ts.TypeFlags.BooleanLiteral);
    const rest = parts.filter((t) => !(t.getFlags() & ts.TypeFlags.BooleanLiteral));
    const schemas = [...(bools.length === 2 ? [{ type: 'boolean' }] : bools.map((t) => schemaOf(checker, t, where, stack))), ...rest.map((t) => schemaOf(checker, t, where, stack))];
    if (schemas.length === 1) return schemas[0];
    if (schemas.every((s) => 'const' in s)) return { enum: schemas.map((s) => s.const) };
    return { anyOf: schemas };
  }
  if (type.isIntersection()) {
    // A branded primitive (string & {__brand}) is the primitive.
    const primitive = type.types.find((t) => t.getFlags() & (ts.TypeFlags.String | ts.TypeFlags.Number | ts.TypeFlags.StringLiteral));
    if (primitive) return schemaOf(checker, primitive, where, stack);
  }
  if (checker.isArrayType(type) || checker.isTupleType(type)) {
    const args = checker.getTypeArguments(type);
    if (checker.isTupleType(type)) return { type: 'array', prefixItems: args.map((t) => schemaOf(checker, t, where, stack)), items: false };
    return { type: 'array', items: schemaOf(checker, args[0], where, stack) };
  }
  if (flags & ts.TypeFlags.Object || type.isIntersection()) {
    const name = checker.typeToString(type);
    if (name === 'Date') return { type: 'string' };
    if (stack.includes(type)) throw new Error(`${where}: ${name} refers to itself; give it a $defs entry by hand`);
    const inner = [...stack, type];
    const out = { type: 'object' };
    const properties = {};
    const required = [];
    for (const prop of checker.getPropertiesOfType(type)) {
      const decl = prop.valueDeclaration ?? prop.declarations?.[0];
      const propType = checker.getTypeOfSymbol(prop);
      if (propType.getCallSignatures().length) continue; // methods are not serialised
      const schema = schemaOf(checker, propType, `${where}.${prop.name}`, inner);
      const doc = ts.displayPartsToString(prop.getDocumentationComment(checker)).replace(/\s+/g, ' ').trim();
      properties[prop.name] = doc ? { description: doc, ...schema } : schema;
      const optional = prop.getFlags() & ts.SymbolFlags.Optional || (propType.isUnion() && propType.types.some((t) => t.getFlags() & ts.TypeFlags.Undefined));
      if (!optional && decl) required.push(prop.name);
    }
    const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    if (Object.keys(properties).length) out.properties = properties;
    if (required.length) out.required = required;
    out.additionalProperties = index ? schemaOf(checker, index.type, `${where}[*]`, inner) : false;
    return out;
  }
  throw new Error(`${where}: no JSON Schema for the type ${checker.typeToString(type)}`);
}

/** The type `run()` of the default-exported command class resolves to. */
function runResultType(checker, source) {
  let found;
  const visit = (node) => {
    if (ts.isClassDeclaration(node) && node.modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword))
      for (const member of node.members) if (ts.isMethodDeclaration(member) && member.name.getText(source) === 'run') found = member;
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (!found) return undefined;
  const signature = checker.getSignatureFromDeclaration(found);
  const promised = checker.getPromisedTypeOfPromise(checker.getReturnTypeOfSignature(signature));
  return promised;
}

/** Every schema, as `{ file: text }`. */
export function generate() {
  const commands = commandFiles();
  const program = ts.createProgram(commands.map((c) => c.file), { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, skipLibCheck: true, noEmit: true, types: ['node'] });
  const checker = program.getTypeChecker();
  const files = {};
  for (const { id, file } of commands) {
    const type = runResultType(checker, program.getSourceFile(file));
    if (!type) throw new Error(`${file}: no default command class with run()`);
    const schema = { $schema: DRAFT, $id: `${ID_BASE}${schemaName(id)}`, title: `infra ${id} --json`, description: `What \`infra ${id} --json\` prints on stdout when it succeeds (docs/reference.md "JSON output"); a failure prints error.schema.json.`, ...schemaOf(checker, type, id) };
    files[schemaName(id)] = `${JSON.stringify(schema, null, 2)}\n`;
  }
  const problem = { type: 'object', properties: { file: { type: 'string' }, line: { type: 'number' }, field: { type: 'string' }, message: { type: 'string' } }, required: ['file', 'field', 'message'], additionalProperties: false };
  const error = {
    $schema: DRAFT,
    $id: `${ID_BASE}error.schema.json`,
    title: 'infra --json, on failure',
    description: 'What every infra command prints on stdout under --json when it fails (docs/reference.md "JSON output"); the exit code is error.code.',
    type: 'object',
    properties: {
      error: {
        type: 'object',
        properties: {
          code: { description: 'The exit code (docs/reference.md "Exit codes").', enum: [1, 2, 3, 4, 5, 130] },
          message: { description: 'What went wrong, one line.', type: 'string' },
          hint: { description: 'The exact command or setting that fixes it.', type: 'string' },
          problems: { description: 'Each problem found, with its file, line and field.', type: 'array', items: problem },
        },
        required: ['code', 'message'],
        additionalProperties: false,
      },
    },
    required: ['error'],
    additionalProperties: false,
  };
  files['error.schema.json'] = `${JSON.stringify(error, null, 2)}\n`;
  return files;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = generate();
  if (process.argv.includes('--check')) {
    const stale = Object.entries(files).filter(([name, text]) => {
      try {
        return readFileSync(path.join(OUT, name), 'utf8') !== text;
      } catch {
        return true;
      }
    });
    const extra = readdirSync(OUT).filter((f) => !(f in files));
    for (const [name] of stale) process.stderr.write(`schema/output/${name} differs from the command's types: run node scripts/output-schemas.js\n`);
    for (const name of extra) process.stderr.write(`schema/output/${name} belongs to no command\n`);
    process.exit(stale.length || extra.length ? 1 : 0);
  }
  mkdirSync(OUT, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(OUT, name), text);
  process.stderr.write(`wrote ${Object.keys(files).length} schemas to schema/output/\n`);
}
