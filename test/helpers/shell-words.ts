/**
 * How a POSIX shell splits a suggested command into words, strictly: a word that would be expanded (an
 * unquoted `$`, backtick, glob character, leading `~`, or a `!`/`{` bash acts on) is an error, not a word,
 * because what it becomes depends on the user's shell and files, so the command shown is not the one run.
 * Reading stops at an unquoted operator (`;`, `&`, `|`, `<`, `>`, `(`, `)`), a backtick, a newline or a
 * comment: the words of one simple command.
 */

const STOP = new Set([';', '&', '|', '<', '>', '(', ')', '`', '\n']);
const EXPANDS = new Set(['$', '*', '?', '[', '!', '{', '}']);

export type Split = { words: string[] } | { error: string };

/** The first `max` words of the command that starts `text` (fewer when it ends sooner). */
export function shellWords(text: string, max = Infinity): Split {
  const words: string[] = [];
  let i = 0;
  const blank = (c: string | undefined) => c === ' ' || c === '\t';
  while (words.length < max) {
    while (blank(text[i])) i++;
    if (i >= text.length || STOP.has(text[i]!) || text[i] === '#') break;
    let word = '';
    const start = i;
    if (text[i] === '~') return { error: `a word starting with ~ at ${start}: ${text.slice(start, start + 30)}` };
    while (i < text.length && !blank(text[i]) && !STOP.has(text[i]!)) {
      const c = text[i]!;
      if (c === "'") {
        const end = text.indexOf("'", i + 1);
        if (end < 0) return { error: `an unclosed ' at ${i}` };
        word += text.slice(i + 1, end);
        i = end + 1;
      } else if (c === '"') {
        i++;
        for (;;) {
          if (i >= text.length) return { error: 'an unclosed "' };
          const d = text[i]!;
          if (d === '"') break;
          if (d === '$' || d === '`' || d === '!') return { error: `${d} expands inside double quotes at ${i}: ${text.slice(start, i + 20)}` };
          if (d === '\\' && '$`"\\\n'.includes(text[i + 1] ?? '')) {
            word += text[i + 1];
            i += 2;
          } else {
            word += d;
            i++;
          }
        }
        i++;
      } else if (c === '\\') {
        if (i + 1 >= text.length) return { error: 'a trailing backslash' };
        if (text[i + 1] !== '\n') word += text[i + 1];
        i += 2;
      } else if (EXPANDS.has(c)) {
        return { error: `an unquoted ${c} at ${i}: ${text.slice(start, i + 20)}` };
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
  return { words };
}

/** Every place `prefix` (e.g. `infra vpn rekey`) starts in `text`, each read as `max` shell words. */
export function commandsAt(text: string, prefix: string, max: number): Split[] {
  const out: Split[] = [];
  for (let at = text.indexOf(prefix); at >= 0; at = text.indexOf(prefix, at + 1)) out.push(shellWords(text.slice(at), max));
  return out;
}
