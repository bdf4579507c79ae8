/** What render and the audit's stale-render check both need: the CAs and KRL every reached host gets. */
import { createHash } from 'node:crypto';
import { readCaFiles } from '../adapters/ca-files.js';
import { knownKeys } from '../adapters/member-facts.js';
import type { Loaded } from '../adapters/registry-load.js';
import { keyParser } from '../core/key-summary.js';
import { renderedCertificates, type RenderedCertificates } from '../core/render-certs.js';
import type { Context } from './context.js';

export interface CertificatesForRender {
  rendered: RenderedCertificates;
  /** Names the rendered data, for render's stamp. */
  digest: string;
}

/** Undefined when the registry has no user CA (ca/user_ca.pub nor a retired one). */
export async function renderCertificates(ctx: Context, loaded: Loaded, nowSeconds = Math.floor(ctx.now().getTime() / 1000)): Promise<CertificatesForRender | undefined> {
  const { current, retired } = await readCaFiles(loaded.registry.root);
  const rendered = renderedCertificates(loaded.registry.config, loaded.registry.members, current, retired, nowSeconds, keyParser(knownKeys(loaded)));
  if (!rendered) return undefined;
  return { rendered, digest: createHash('sha256').update(JSON.stringify(rendered)).digest('hex') };
}
