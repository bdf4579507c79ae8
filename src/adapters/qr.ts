/** A QR code drawn with Unicode half blocks, for the WireGuard phone apps' "scan from QR code" (qrcode, imported lazily). */
export async function terminalQr(text: string): Promise<string> {
  const { default: QRCode } = await import('qrcode');
  return QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
}
