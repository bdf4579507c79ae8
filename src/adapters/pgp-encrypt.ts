/** Encrypting text to one armored OpenPGP public key (openpgp.js, imported lazily: most runs never encrypt). */
import { ExitCode, InfraError } from '../lib/errors.js';

/** ASCII-armored OpenPGP message that only the holder of `armoredPublicKey`'s secret key can read. */
export async function encryptToArmoredKey(text: string, armoredPublicKey: string, keyFile: string): Promise<string> {
  const openpgp = await import('openpgp');
  let key;
  try {
    key = await openpgp.readKey({ armoredKey: armoredPublicKey });
  } catch (e) {
    throw new InfraError(ExitCode.invalid, `${keyFile}: not an armored OpenPGP public key (${(e as Error).message.split('\n')[0]})`, {
      hint: `replace it with the output of \`gpg --export --armor EMAIL\``,
    });
  }
  try {
    await key.getEncryptionKey();
  } catch (e) {
    throw new InfraError(ExitCode.invalid, `${keyFile}: this key cannot encrypt (${(e as Error).message.split('\n')[0]})`, {
      hint: 'the member needs a current key with an encryption subkey: export it again with `gpg --export --armor EMAIL`',
    });
  }
  const message = await openpgp.createMessage({ text });
  return (await openpgp.encrypt({ message, encryptionKeys: key, format: 'armored' })) as string;
}
