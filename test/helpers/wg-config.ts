/** `[Interface]` / `[Peer]` key -> value (`Interface.PrivateKey`), the way wg-quick reads a config. */
export function configFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let section = '';
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (/^\[.*\]$/.test(t)) section = t.slice(1, -1);
    else if (t && !t.startsWith('#')) {
      const at = t.indexOf('=');
      out[`${section}.${t.slice(0, at).trim()}`] = t.slice(at + 1).trim();
    }
  }
  return out;
}
