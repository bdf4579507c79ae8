/** A QR code drawn with Unicode half blocks, for the WireGuard phone apps' "scan from QR code" (qrcode, imported lazily). */
export async function terminalQr(text: string, opts: { colour: boolean } = { colour: true }): Promise<string> {
  const { default: QRCode } = await import('qrcode');
  if (opts.colour) return QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
  return plainHalfBlocks(QRCode.create(text, { errorCorrectionLevel: 'M' }).modules);
}

const QUIET = 2;

/**
 * Without colour (NO_COLOR, TERM=dumb, not a terminal) the terminal's own colours draw the code. Light
 * text on a dark background is the usual terminal, so, as `qrencode -t UTF8` does, the light modules and
 * a quiet zone of two modules are drawn as blocks and the dark modules are left blank.
 */
export function plainHalfBlocks(modules: { size: number; get(row: number, col: number): number | boolean }): string {
  const span = modules.size + 2 * QUIET;
  const inSymbol = (i: number) => i >= QUIET && i < QUIET + modules.size;
  const light = (y: number, x: number) => y < span && (!inSymbol(y) || !inSymbol(x) || !modules.get(y - QUIET, x - QUIET));
  const lines: string[] = [];
  for (let y = 0; y < span; y += 2) {
    let line = '';
    for (let x = 0; x < span; x++) {
      const top = light(y, x);
      const bottom = light(y + 1, x);
      line += top && bottom ? '█' : top ? '▀' : bottom ? '▄' : ' ';
    }
    lines.push(line);
  }
  return `${lines.join('\n')}\n`;
}
